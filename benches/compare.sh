#!/usr/bin/env bash
# Compares attune-pack (release build) with the shell tools it replaces, on the same generated
# 5,000-file pack: extract + hash every file, from .tar.gz, .zip and a directory.
# Usage: benches/compare.sh [FILES] [RUNS]. Prints the median wall time of each.
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
    t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f s", a[int((NR+1)/2)]/1000}'
}

hash_tree() { find "$work/out" -type f -print0 | xargs -0 sha256sum >/dev/null; }
shell_tgz() { tar -C "$work/out" -xzf "$work/pack.tar.gz" && sha256sum "$work/pack.tar.gz" && hash_tree; }
shell_zip() { python3 -m zipfile -e "$work/pack.zip" "$work/out" && sha256sum "$work/pack.zip" && hash_tree; }
shell_dir() { cp -a "$work/pack/." "$work/out/" && hash_tree; }
ap() { "$bin" --packs-dir "$work/store" -q install --skip-tests "$1"; }

printf '%-10s %-34s %s\n' source "shell tools (extract + sha256 all)" "attune-pack install"
printf '%-10s %-34s %s\n' tar.gz "$(median shell_tgz)" "$(median ap "$work/pack.tar.gz")"
printf '%-10s %-34s %s\n' zip "$(median shell_zip)" "$(median ap "$work/pack.zip")"
printf '%-10s %-34s %s\n' directory "$(median shell_dir)" "$(median ap "$work/pack")"
