#!/usr/bin/env bash
# Measures remote installs with the release binary, run as `env -i PATH=/nonexistent` (so no
# external program can be used), against servers on 127.0.0.1 started here:
#   - a ~100 MB .tar.gz over HTTP (python3 http.server), vs curl | tee >(sha256sum) | tar -xz;
#   - a 5,000-file pack over smart HTTP (git http-backend as CGI) and file://,
#     vs `git clone --depth 1`.
# Prints wall time and peak RSS (GNU time) of each. Needs python3, git, curl, GNU time.
# Usage: benches/remote.sh [MEGABYTES] [FILES]
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-100}
files=${2:-5000}
cargo build --release --quiet
bin=$PWD/target/release/attune-pack
work=$(mktemp -d)
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The big pack: incompressible files, so the .tar.gz is ~$mb MB.
python3 - "$work/big" "$mb" <<'PY'
import os, sys
root, mb = sys.argv[1], int(sys.argv[2])
os.makedirs(f"{root}/actions")
open(f"{root}/pack.yaml", "w").write("ref: big\nversion: 1.0.0\n")
for i in range(mb // 2):
    open(f"{root}/actions/blob{i}.bin", "wb").write(os.urandom(2 << 20))
PY
mkdir -p "$work/www/cgi-bin" "$work/git"
tar -C "$work/big" -czf "$work/www/big.tar.gz" .

# The git pack: the same generator as compare.sh, committed twice, served bare.
python3 benches/gen-pack.py "$work/src" "$files"
g() { git -C "$work/src" -c user.name=b -c user.email=b@b "$@" >/dev/null; }
g init -b main && g add -A && g commit -m one
echo "# two" >>"$work/src/actions/group0/a0.yaml" && g commit -am two
git clone --quiet --bare "$work/src" "$work/git/bench.git"
cat >"$work/www/cgi-bin/git" <<EOF
#!/bin/sh
# python's CGI server runs scripts as nobody when started as root: the repository is not theirs.
GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \\
GIT_PROJECT_ROOT=$work/git GIT_HTTP_EXPORT_ALL=1 exec git http-backend
EOF
chmod +x "$work/www/cgi-bin/git"

port=$(free_port)
(cd "$work/www" && exec python3 -c '
import http.server, sys
http.server.test(HandlerClass=http.server.CGIHTTPRequestHandler, port=int(sys.argv[1]), bind="127.0.0.1")
' "$port") >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/big.tar.gz" -r 0-0 && break; sleep 0.1; done
base=http://127.0.0.1:$port

# "label: seconds, peak RSS" of "$@" in a fresh store/output dir.
measure() {
  local label=$1; shift
  rm -rf "$work/store" "$work/out"; mkdir -p "$work/out"
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
  read -r secs kb <"$work/time"
  printf '%-44s %7s s %8s MB\n' "$label" "$secs" "$((kb / 1024))"
}
ap=(env -i PATH=/nonexistent "$bin" --packs-dir "$work/store" --cache-dir "$work/cache" -q install --skip-tests --allow-http)

size=$(stat -c %s "$work/www/big.tar.gz")
echo "tar.gz: $((size / 1048576)) MB over HTTP; git: $files files, 2 commits"
printf '%-44s %9s %11s\n' "" "wall" "peak RSS"
measure "attune-pack install <archive URL>" "${ap[@]}" "$base/big.tar.gz"
measure "curl | tee >(sha256sum) | tar -xz" bash -c "curl -fs $base/big.tar.gz | tee >(sha256sum >$work/sum) | tar -C $work/out -xz"
measure "attune-pack install <smart-HTTP git URL>" "${ap[@]}" "$base/cgi-bin/git/bench.git"
measure "git clone --depth 1 <smart-HTTP URL>" git clone --quiet --depth 1 "$base/cgi-bin/git/bench.git" "$work/out/c"
measure "attune-pack install <file:// git URL>" "${ap[@]}" "file://$work/git/bench.git"
measure "git clone --depth 1 <file:// URL>" git clone --quiet --depth 1 "file://$work/git/bench.git" "$work/out/c"
