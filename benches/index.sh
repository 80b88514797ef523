#!/usr/bin/env bash
# Loading a large registry index (release build): benches/gen-index.py writes PACKS packs x 5
# versions; it is served over http once, so attune-pack downloads and caches it as a
# registry install would (the cold parse), then `--offline search QUERY` from the warm cache
# and python3's `json.load` of the same file run alternately RUNS times.
# Usage: [TMPDIR=/dev/shm] [ATTUNE_PACK_BIN=…] benches/index.sh [PACKS] [RUNS] [QUERY].
# Prints the cold load, the median of each (wall time, peak RSS), their ratio and the
# document's size.
set -euo pipefail
cd "$(dirname "$0")/.."
packs=${1:-10000}
runs=${2:-5}
query=${3:-vault-0004}
# ATTUNE_PACK_BIN: a binary to measure instead of this tree's release build.
bin=${ATTUNE_PACK_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release --quiet
    bin=$PWD/target/release/attune-pack
fi
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT

python3 benches/gen-index.py "$work/index.json" "$packs"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$work" >/dev/null 2>&1 &
server=$!
cat >"$work/config.yaml" <<EOF
pack_registry:
  allow_http: true
  indices:
    - {name: main, url: "http://127.0.0.1:$port/index.json"}
EOF
export ATTUNE_PACK_CONFIG=$work/config.yaml ATTUNE_PACK_CACHE_DIR=$work/cache ATTUNE_PACKS_DIR=$work/packs
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$port/index.json" && break; sleep 0.1; done

timed() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "cold (download, parse, cache): $(timed "$bin" search "$query") (s KB)"
ours=() theirs=()
for _ in $(seq "$runs"); do
    ours+=("$(timed "$bin" --offline search "$query")")
    theirs+=("$(timed python3 -c "import json; json.load(open('$work/index.json'))")")
done
python3 - "$work/index.json" "${ours[@]}" -- "${theirs[@]}" <<'PY'
import os, statistics, sys
doc, rest = sys.argv[1], sys.argv[2:]
cut = rest.index("--")
def med(xs, i):
    return statistics.median(float(x.split()[i]) for x in xs)
ours, theirs = rest[:cut], rest[cut + 1:]
size = os.path.getsize(doc) / 1024
print(f"document: {size / 1024:.1f} MB")
print(f"warm search: {med(ours, 0):.3f} s, {med(ours, 1) / 1024:.0f} MB peak ({med(ours, 1) / size:.2f}x the document)")
print(f"python json.load: {med(theirs, 0):.3f} s, {med(theirs, 1) / 1024:.0f} MB peak")
print(f"ratio (warm search / json.load): {med(ours, 0) / med(theirs, 0):.2f}")
PY
