#!/usr/bin/env bash
# The cost of the durable commit: installs of a generated 5,000-file pack from a directory and
# from a .tar.gz with `sync: true` (the default) and `sync: false`, alternating, median of N
# runs, on a disk file system (DIR, default the repository's file system) and on tmpfs
# (/dev/shm). Usage: benches/durable.sh [RUNS] [DIR]. Uses target/release/attune-pack
# (built if missing) or $ATTUNE_PACK.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-9}
disk=${2:-$PWD/target}
bin=${ATTUNE_PACK:-$PWD/target/release/attune-pack}
[ -x "$bin" ] || cargo build --release --quiet

measure() { # FS-DIR SOURCE SYNC → seconds of one install --force
  local root=$1 source=$2 sync=$3
  local start end
  sync # start from a clean page cache: no earlier run's writeback in this one's time
  start=$(date +%s.%N)
  "$bin" --packs-dir "$root/packs" --config "$root/sync-$sync.yaml" -q install --force --skip-tests "$source" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

# min / median / max of the numbers on stdin.
spread() { sort -n | awk '{a[NR]=$1} END {printf "%.3f / %.3f / %.3f", a[1], a[int((NR+1)/2)], a[NR]}'; }

for fs in "$disk" /dev/shm; do
  root=$(mktemp -d "$fs/durable-XXXXXX")
  trap 'rm -rf "$root"' EXIT
  python3 benches/gen-pack.py "$root/pack" 5000
  tar -C "$root/pack" -czf "$root/pack.tar.gz" .
  echo "sync: true" >"$root/sync-true.yaml"
  echo "sync: false" >"$root/sync-false.yaml"
  kind=$(stat -f -c %T "$fs")
  for source in "$root/pack" "$root/pack.tar.gz"; do
    declare -a on=() off=()
    "$bin" --packs-dir "$root/packs" -q install --force --skip-tests "$source" >/dev/null # warm up
    for _ in $(seq "$runs"); do
      on+=("$(measure "$root" "$source" true)")
      off+=("$(measure "$root" "$source" false)")
    done
    printf '%-9s %-12s sync: %s s   no sync: %s s   (min / median / max of %s)\n' \
      "$kind" "$(basename "$source")" "$(printf '%s\n' "${on[@]}" | spread)" \
      "$(printf '%s\n' "${off[@]}" | spread)" "$runs"
  done
  rm -rf "$root"
  trap - EXIT
done
