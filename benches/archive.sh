#!/usr/bin/env bash
# Archive installs against the tools they replace, on the pack of gen-mixed-pack.py (5,000
# files, 100 MB, a fifth incompressible), alternating each pair of runs so that load from
# other processes hits both alike:
#   local .tar.gz   vs  sha256sum F && tar xzf F
#   local .zip      vs  unzip -q F
#   archive URL     vs  curl -s URL -o F && sha256sum F && tar xzf F   (python3 http.server)
# Prints the medians (wall time), the ratio of the medians and peak RSS (GNU time).
# Usage: [TMPDIR=/dev/shm] [BIN=path] benches/archive.sh [RUNS] [CASES...]
#   CASES: tgz zip url (default all three). BIN defaults to target/release/attune-pack
#   (built first when not given).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
shift || true
cases=("${@:-tgz zip url}")
read -r -a cases <<<"${cases[*]}"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/attune-pack
fi
work=$(mktemp -d "${TMPDIR:-/dev/shm}/archive-bench.XXXXXX")
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

python3 benches/gen-mixed-pack.py "$work/pack"
mkdir "$work/www"
tar -C "$work/pack" -czf "$work/www/pack.tar.gz" .
(cd "$work/pack" && zip -qr "$work/pack.zip" .)
tgz=$work/www/pack.tar.gz

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$port/pack.tar.gz" && break; sleep 0.1; done
url=http://127.0.0.1:$port/pack.tar.gz

# Runs "$@" in a fresh empty $work/out (the current directory), appends "ms kb" to $1's file.
timed() {
  local log=$1; shift
  rm -rf "$work/out" "$work/store"; mkdir "$work/out"
  /usr/bin/time -f '%e %M' -o "$work/time" bash -c 'cd "$0" && t0=$(date +%s%N) && "$@" && echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$0/../ms"' "$work/out" "$@" \
    >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
  echo "$(cat "$work/ms") $(cut -d' ' -f2 "$work/time")" >>"$log"
}
median() { sort -n "$1" | awk '{a[NR]=$'"$2"'} END {print a[int((NR+1)/2)]}'; }

ref_tgz() { sha256sum "$tgz" >/dev/null && tar xzf "$tgz"; }
ref_zip() { unzip -q "$work/pack.zip"; }
ref_url() { curl -s "$url" -o "$work/out/dl.tar.gz" && sha256sum "$work/out/dl.tar.gz" >/dev/null && tar xzf "$work/out/dl.tar.gz"; }
export -f ref_tgz ref_zip ref_url
export tgz url work
ap=("$BIN" --packs-dir "$work/store" -q install --skip-tests --allow-http)

echo "in $(df --output=fstype "$work" | tail -1); .tar.gz $(( $(stat -c %s "$tgz") >> 20 )) MiB, .zip $(( $(stat -c %s "$work/pack.zip") >> 20 )) MiB; median of $runs, alternating"
printf '%-6s %12s %12s %7s %10s %10s\n' case reference attune-pack ratio "ref RSS" "ours RSS"
for c in "${cases[@]}"; do
  case $c in
    tgz) ref=ref_tgz; src=$tgz ;;
    zip) ref=ref_zip; src=$work/pack.zip ;;
    url) ref=ref_url; src=$url ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
  : >"$work/r"; : >"$work/a"
  for _ in $(seq "$runs"); do
    timed "$work/r" bash -c "$ref"
    timed "$work/a" "${ap[@]}" "$src"
  done
  r=$(median "$work/r" 1); a=$(median "$work/a" 1)
  printf '%-6s %9s ms %9s ms %7s %7s MB %7s MB\n' "$c" "$r" "$a" \
    "$(awk -v a="$a" -v r="$r" 'BEGIN {printf "%.3f", a / r}')" \
    "$(( $(median "$work/r" 2) / 1024 ))" "$(( $(median "$work/a" 2) / 1024 ))"
done
