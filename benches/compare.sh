#!/usr/bin/env bash
# Compares attune-pack (release build) with the shell tools it replaces, on the same generated
# 5,000-file pack: extract + hash every file, from .tar.gz, .zip and a directory.
# Usage: [TMPDIR=DIR] benches/compare.sh [FILES] [RUNS]. Prints the median wall time of each.
# On a disk the file system's writeback dominates and varies between runs; TMPDIR=/dev/shm
# measures the work itself.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-5000}
runs=${2:-5}
cargo build --release --quiet
bin=$PWD/target/release/attune-pack
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 benches/gen-pack.py "$work/pack" "$files"
tar -C "$work/pack" -czf "$work/pack.tar.gz" .
(cd "$work/pack" && python3 -c "import shutil; shutil.make_archive('../pack', 'zip', '.')")

# median of the wall times (seconds) of "$@" run $runs times, each in a fresh target dir
median() {
  local times=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/out" "$work/store"; mkdir -p "$work/out"
    local t0 t1
    t0=$(date +%s%N)
    # A run that fails would look fast: stop instead.
    "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f s", a[int((NR+1)/2)]/1000}'
}

hash_tree() { find "$work/out" -type f -print0 | xargs -0 sha256sum >/dev/null; }
shell_tgz() { tar -C "$work/out" -xzf "$work/pack.tar.gz" && sha256sum "$work/pack.tar.gz" && hash_tree; }
shell_zip() { python3 -m zipfile -e "$work/pack.zip" "$work/out" && sha256sum "$work/pack.zip" && hash_tree; }
shell_dir() { cp -a "$work/pack/." "$work/out/" && hash_tree; }
ap() { "$bin" --packs-dir "$work/store" -q install --skip-tests "$1"; }

row() {
  local shell ours
  shell=$(median "$2")
  ours=$(median ap "$3")
  printf '%-10s %-34s %s\n' "$1" "$shell" "$ours"
}
echo "in $(df --output=fstype "$work" | tail -1) at $work ($files files, median of $runs)"
printf '%-10s %-34s %s\n' source "shell tools (extract + sha256 all)" "attune-pack install"
row tar.gz shell_tgz "$work/pack.tar.gz"
row zip shell_zip "$work/pack.zip"
row directory shell_dir "$work/pack"
