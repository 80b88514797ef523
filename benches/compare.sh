#!/usr/bin/env bash
# attune-pack against the shell tools it replaces, in one run: each pair runs alternately
# RUNS times (default 5) on tmpfs, and the table gives both medians and their ratio, then
# peak memory. The binary is the static one that ships (`PROFILE=dist .ci/static`), or
# $ATTUNE_PACK. Inputs are generated here:
#   - a 5,000-file, 100 MB pack (a fifth of its files incompressible) as .tar.gz, .tar.xz,
#     .tar.zst, .tar.bz2, .zip, a bare git repository (served over smart HTTP by git
#     http-backend, and as file://);
#   - a 1 GB file (checksum; a single-member .tar.gz for peak memory) and a 100,000-entry zip;
#   - a 10,000-pack × 5-version index, cached as a registry index is, and a 50-file pack in it
#     (benches/gen-mixed-pack.py, gen-pack.py and gen-index.py write them).
# Usage: [RUNS=N] [ATTUNE_PACK=BIN] benches/compare.sh. Needs python3, git, curl, zip, unzip,
# GNU tar, xz, zstd, bzip2 and time. Takes a few minutes (xz alone compresses for a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
bin=${ATTUNE_PACK:-$(PROFILE=dist .ci/static | tail -1)}
work=$(mktemp -d /dev/shm/attune-compare-XXXXXX)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www/cgi-bin" "$work/git"

python3 benches/gen-mixed-pack.py "$work/pack" 5000 100
python3 benches/gen-pack.py "$work/small" 49 small
python3 benches/gen-index.py "$work/index-body.json" 10000
python3 - "$work/many.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("many/pack.yaml", "ref: many\nversion: 1.0.0\n")
    for i in range(99_999):
        z.writestr(f"many/actions/d{i % 100}/f{i}.yaml", f"n: {i}\n")
PY
tar -C "$work/pack" -czf "$work/www/pack.tar.gz" .
# At each tool's default level, as `tar -cJf`, `tar --zstd -cf` and `tar -cjf` write them.
tar -C "$work/pack" -cJf "$work/pack.tar.xz" .
tar -C "$work/pack" --zstd -cf "$work/pack.tar.zst" .
tar -C "$work/pack" -cjf "$work/pack.tar.bz2" .
(cd "$work/pack" && zip -qr "$work/pack.zip" .)
tar -C "$work/small" -czf "$work/www/small.tar.gz" .
head -c 1073741824 /dev/zero >"$work/big.bin"
mkdir -p "$work/bigpack" && printf 'ref: big\nversion: 1.0.0\n' >"$work/bigpack/pack.yaml"
ln "$work/big.bin" "$work/bigpack/big.bin"
tar -C "$work/bigpack" -cf - . | gzip -1 >"$work/big.tar.gz"

g() { git -C "$work/pack" -c user.name=b -c user.email=b@b "$@" >/dev/null; }
g init -b main && g add -A && g commit -m one
git clone --quiet --bare "$work/pack" "$work/git/bench.git"
# Packed, as git hosts serve repositories (loose objects would make the server's compression
# dominate both clients).
git -C "$work/git/bench.git" repack -adq
rm -rf "$work/pack/.git"
cat >"$work/www/cgi-bin/git" <<EOF
#!/bin/sh
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \\
GIT_PROJECT_ROOT=$work/git GIT_HTTP_EXPORT_ALL=1 exec git http-backend
EOF
chmod +x "$work/www/cgi-bin/git"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(cd "$work/www" && exec python3 -c '
import http.server, sys
http.server.test(HandlerClass=http.server.CGIHTTPRequestHandler, port=int(sys.argv[1]), bind="127.0.0.1")
' "$port") >/dev/null 2>&1 &
pids+=($!)
base=http://127.0.0.1:$port
for _ in $(seq 50); do curl -fs -o /dev/null "$base/small.tar.gz" && break; sleep 0.1; done

# The index, with `small` served from here, cached by one install and then used warm.
python3 - "$work" "$base" <<'PY'
import hashlib, json, sys
work, base = sys.argv[1], sys.argv[2]
doc = json.load(open(f"{work}/index-body.json"))
data = open(f"{work}/www/small.tar.gz", "rb").read()
doc["packs"].append({**doc["packs"][0], "ref": "small", "version": "1.0.0", "install_sources": [
    {"type": "archive", "url": f"{base}/small.tar.gz", "checksum": "sha256:" + hashlib.sha256(data).hexdigest()}]})
json.dump(doc, open(f"{work}/www/index.json", "w"))
PY
printf 'pack_registry:\n  allow_http: true\n  cache_ttl: 86400\n  indices:\n    - {name: bench, url: "%s/index.json"}\n' "$base" >"$work/config.yaml"
ap=(env -i PATH=/nonexistent "$bin" --packs-dir "$work/store" --cache-dir "$work/cache" --config "$work/config.yaml" -q)
"${ap[@]}" install --skip-tests small >/dev/null

source benches/timing.sh

A="${ap[*]}"
out=$work/out
echo "$(nproc) cores, $(uname -r), tmpfs; binary: $bin ($(stat -c %s "$bin") bytes); median of $runs, alternating"
echo "pack: 5,000 files, $(du -sb "$work/pack" | cut -f1) bytes; .tar.gz $(stat -c %s "$work/www/pack.tar.gz"), .tar.xz $(stat -c %s "$work/pack.tar.xz"), .tar.zst $(stat -c %s "$work/pack.tar.zst"), .tar.bz2 $(stat -c %s "$work/pack.tar.bz2"), .zip $(stat -c %s "$work/pack.zip"); index $(stat -c %s "$work/www/index.json") bytes, 50,001 entries"
echo
echo "| work | attune-pack | reference | ratio |"
echo "|---|---|---|---|"
pair "checksum of a 1 GB file (ref: sha256sum)" "$bin checksum $work/big.bin" "sha256sum $work/big.bin"
pair "local .tar.gz install (ref: sha256sum && tar xzf)" "$A install --skip-tests $work/www/pack.tar.gz" "sha256sum $work/www/pack.tar.gz && tar -C $out -xzf $work/www/pack.tar.gz"
pair "local .tar.xz install (ref: tar xJf)" "$A install --skip-tests $work/pack.tar.xz" "tar -C $out -xJf $work/pack.tar.xz"
pair "local .tar.zst install (ref: tar --zstd -xf)" "$A install --skip-tests $work/pack.tar.zst" "tar -C $out --zstd -xf $work/pack.tar.zst"
pair "local .tar.bz2 install (ref: tar xjf)" "$A install --skip-tests $work/pack.tar.bz2" "tar -C $out -xjf $work/pack.tar.bz2"
pair "local .zip install (ref: unzip)" "$A install --skip-tests $work/pack.zip" "unzip -q $work/pack.zip -d $out"
pair "archive URL install (ref: curl && sha256sum && tar xzf)" "$A install --skip-tests $base/pack.tar.gz" "curl -fs $base/pack.tar.gz -o $out/p.tgz && sha256sum $out/p.tgz && tar -C $out -xzf $out/p.tgz"
pair "git over smart HTTP, depth 1 (ref: git clone --depth 1)" "$A install --skip-tests $base/cgi-bin/git/bench.git" "git clone -q --depth 1 $base/cgi-bin/git/bench.git $out/c"
pair "git over file://, depth 1 (ref: git clone --depth 1)" "$A install --skip-tests file://$work/git/bench.git" "git clone -q --depth 1 file://$work/git/bench.git $out/c"
pair "index load + search, warm cache (ref: python3 json.load)" "$A --offline search zzz-none" "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' $work/www/index.json"
e2e=()
for _ in $(seq "$runs"); do e2e+=("$(once "${ap[@]}" install --skip-tests small)"); done
echo "| 50-file pack by name, warm registry cache (target 30 ms) | $(printf '%s\n' "${e2e[@]}" | median) ms | | |"
echo
echo "| peak memory | MiB |"
echo "|---|---|"
echo "| install of a 1 GB single-member .tar.gz | $(rss "${ap[@]}" install --skip-tests "$work/big.tar.gz") |"
echo "| install of a 100,000-entry .zip | $(rss "${ap[@]}" install --skip-tests "$work/many.zip") |"
echo "| git install over smart HTTP | $(rss "${ap[@]}" install --skip-tests "$base/cgi-bin/git/bench.git") |"
echo "| search in the 10,000 × 5 index, warm cache ($(( $(stat -c %s "$work/www/index.json") / 1048576 )) MiB document) | $(rss "${ap[@]}" --offline search zzz-none) |"
rm -rf "$work/cold"
echo "| the same search, cold cache (downloaded, parsed, cached) | $(rss env -i PATH=/nonexistent "$bin" --packs-dir "$work/store" --cache-dir "$work/cold" --config "$work/config.yaml" -q search zzz-none) |"
