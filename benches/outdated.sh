#!/usr/bin/env bash
# `outdated` over many installed packs against a large index (release build): installs
# INSTALLED packs from a file index, then publishes an index of INDEXED packs with
# VERSIONS versions each (every installed pack with newer ones) and times `outdated`.
# Usage: [TMPDIR=DIR] [ATTUNE_PACK=BIN] benches/outdated.sh [INSTALLED] [INDEXED] [VERSIONS] [RUNS].
# Prints the median wall time of `outdated` and of `list` (the store alone), and the index size.
set -euo pipefail
cd "$(dirname "$0")/.."
installed=${1:-100}
indexed=${2:-10000}
versions=${3:-5}
runs=${4:-5}
bin=${ATTUNE_PACK:-$PWD/target/release/attune-pack}
[ -n "${ATTUNE_PACK:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$installed" "$indexed" "$versions" <<'PY'
import hashlib, io, json, sys, tarfile
work, installed, indexed, versions = sys.argv[1], *map(int, sys.argv[2:])
def tgz(ref, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = f"ref: {ref}\nversion: {version}\n".encode()
        info = tarfile.TarInfo("pack/pack.yaml"); info.size = len(data); info.mtime = 0
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
def entry(ref, version, url, checksum):
    return {"ref": ref, "label": ref, "description": f"pack {ref}", "version": version,
            "author": "bench", "license": "MIT", "keywords": ["bench"], "runtime_deps": [],
            "install_sources": [{"type": "archive", "url": url, "checksum": checksum}],
            "contents": {"actions": [], "sensors": [], "triggers": [], "rules": [], "workflows": []}}
first, full = [], []
for i in range(indexed):
    ref = f"p{i:05d}"
    for v in range(versions):
        version = f"1.{v}.0"
        if i < installed and v == 0:
            data = tgz(ref, version)
            name = f"{work}/{ref}-{version}.tgz"
            open(name, "wb").write(data)
            e = entry(ref, version, f"file://{name}", "sha256:" + hashlib.sha256(data).hexdigest())
            first.append(e)
        else:
            e = entry(ref, version, f"https://example.invalid/{ref}-{version}.tgz", "sha256:" + "0" * 64)
        full.append(e)
doc = lambda packs: json.dumps({"registry_name": "bench", "registry_url": "", "version": "1.0",
                                "last_updated": "2026-01-01T00:00:00Z", "packs": packs})
open(f"{work}/first.json", "w").write(doc(first))
open(f"{work}/full.json", "w").write(doc(full))
open(f"{work}/refs", "w").write(" ".join(f"p{i:05d}" for i in range(installed)))
PY

config() { printf 'pack_registry:\n  indices:\n    - {name: bench, url: "%s"}\n' "$1" >"$work/config.yaml"; }
ap() { "$bin" --packs-dir "$work/store" --cache-dir "$work/cache" --config "$work/config.yaml" -q "$@"; }
config "$work/first.json"
# shellcheck disable=SC2046
ap install --skip-tests $(cat "$work/refs")
config "$work/full.json"
rows=$(ap --json outdated | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$rows" = "$installed" ] || { echo "outdated listed $rows of $installed packs" >&2; exit 1; }

median() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%d ms", a[int((NR+1)/2)]}'
}
echo "index: $indexed packs x $versions versions, $(( $(stat -c %s "$work/full.json") / 1024 / 1024 )) MiB; $installed installed"
echo "outdated: $(median ap outdated)"
echo "list:     $(median ap list)"
