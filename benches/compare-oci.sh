#!/usr/bin/env bash
# attune-pack's OCI install against `oras pull` + `tar xzf` of the same artifact from the same
# local registry (Debian's docker-registry on 127.0.0.1, storage on tmpfs), run alternately
# RUNS times (default 5), medians and their ratio; then peak memory of an install of a 1 GiB
# layer. The pack is the 5,000-file, 100 MB one of compare.sh, pushed by `attune-pack push`.
# Usage: [RUNS=N] [ATTUNE_PACK=BIN] benches/compare-oci.sh. Needs docker-registry, the oras
# venv of .ci/run (/opt/oras-venv), python3, GNU tar and time.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
bin=${ATTUNE_PACK:-$(PROFILE=dist .ci/static | tail -1)}
oras_py=${ORAS_PYTHON:-/opt/oras-venv/bin/python}
work=$(mktemp -d /dev/shm/attune-oci-XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat >"$work/registry.yml" <<EOF2
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: $host}
EOF2
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done

python3 benches/gen-mixed-pack.py "$work/pack" 5000 100
mkdir -p "$work/bigpack" && printf 'ref: big\nversion: 1.0.0\n' >"$work/bigpack/pack.yaml"
head -c 1073741824 /dev/urandom >"$work/bigpack/big.bin"
printf 'oci:\n  plain_http: ["%s"]\nlimits: {max_download_bytes: 2GiB, max_unpacked_bytes: 4GiB}\n' "$host" >"$work/config.yaml"
ap=(env -i PATH=/nonexistent "$bin" --packs-dir "$work/store" --cache-dir "$work/cache" --config "$work/config.yaml" -q)
ref=$("${ap[@]}" --json push "$work/pack" "oci://$host/bench" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tag"])')
pack_ref=$(sed -n 's/^ref: //p' "$work/pack/pack.yaml")
"${ap[@]}" push "$work/bigpack" "oci://$host/bench" >/dev/null

source benches/timing.sh

echo "$(nproc) cores, tmpfs; binary: $bin ($(stat -c %s "$bin") bytes); median of $runs, alternating"
echo
echo "| work | attune-pack | reference | ratio |"
echo "|---|---|---|---|"
pair "install oci:// of a 5,000-file 100 MB pack (ref: oras pull && tar xzf)" \
  "${ap[*]} install --skip-tests oci://$host/bench/$pack_ref:$ref" \
  "$oras_py -c \"import oras.client; oras.client.OrasClient(hostname='$host', insecure=True).pull(target='$host/bench/$pack_ref:$ref', outdir='$work/out')\" && tar -C $work/out -xzf $work/out/*.tar.gz"
echo
echo "| peak memory | MiB |"
echo "|---|---|"
echo "| install oci:// of a 1 GiB layer | $(rss "${ap[@]}" install --skip-tests "oci://$host/bench/big:1.0.0") |"
