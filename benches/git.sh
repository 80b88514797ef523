#!/usr/bin/env bash
# Git installs at depth 1 against `git clone --depth 1`, over smart HTTP (git http-backend as
# CGI on 127.0.0.1; the repository with loose objects, as remote.sh serves it, and packed)
# and file://, the release binary under `env -i PATH=/nonexistent`.
# Each round runs attune-pack and git alternately (timings drift while other work runs on
# the machine), in tmpfs unless TMPDIR says otherwise; prints the median wall time of each,
# the median of the per-round ratios, and the peak RSS (GNU time) of attune-pack.
# Usage: [TMPDIR=DIR] [BIN=path] benches/git.sh [FILES] [RUNS]. Needs python3, git, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-5000}
runs=${2:-7}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/attune-pack
fi
work=$(mktemp -d -p "${TMPDIR:-/dev/shm}")
chmod 755 "$work"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The pack of compare.sh, committed twice, served bare.
python3 benches/gen-pack.py "$work/src" "$files"
g() { git -C "$work/src" -c user.name=b -c user.email=b@b "$@" >/dev/null; }
g init -b main && g add -A && g commit -m one
echo "# two" >>"$work/src/actions/group0/a0.yaml" && g commit -am two
mkdir -p "$work/www/cgi-bin" "$work/git"
git clone --quiet --bare "$work/src" "$work/git/bench.git"
# The same repository packed, as hosts serve theirs: the server then reuses its deltas, and
# the clients' own work shows (with loose objects the server's compression dominates both).
git clone --quiet --bare "$work/src" "$work/git/packed.git"
git -C "$work/git/packed.git" repack -adq
cat >"$work/www/cgi-bin/git" <<EOF
#!/bin/sh
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
http_url=http://127.0.0.1:$port/cgi-bin/git/bench.git
for _ in $(seq 50); do curl -fs -o /dev/null "$http_url/info/refs" && break; sleep 0.1; done
file_url=file://$work/git/bench.git

# Milliseconds of "$@" in a fresh store; peak RSS (KiB) left in $work/rss.
run() {
  rm -rf "$work/store" "$work/out"
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f %M -o "$work/rss" "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ap=(env -i PATH=/nonexistent "$BIN" --packs-dir "$work/store" --cache-dir "$work/cache" -q install --skip-tests --allow-http)

compare() {
  local label=$1 url=$2 ours=() theirs=() ratios=() rss=() a b
  for i in $(seq "$runs"); do
    # Alternate which goes first, so neither always runs right after the other's writes.
    if (( i % 2 )); then
      a=$(run "${ap[@]}" "$url"); rss+=("$(cat "$work/rss")")
      b=$(run git clone --quiet --depth 1 "$url" "$work/out")
    else
      b=$(run git clone --quiet --depth 1 "$url" "$work/out")
      a=$(run "${ap[@]}" "$url"); rss+=("$(cat "$work/rss")")
    fi
    ours+=("$a"); theirs+=("$b")
    ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')")
  done
  printf '%-10s attune-pack %5s ms  git clone --depth 1 %5s ms  ratio %s (%s)  peak RSS %s MiB\n' \
    "$label" "$(median "${ours[@]}")" "$(median "${theirs[@]}")" "$(median "${ratios[@]}")" \
    "$(printf '%s ' "${ratios[@]}" | sed 's/ $//')" "$(( $(median "${rss[@]}") / 1024 ))"
}
echo "in $(df --output=fstype "$work" | tail -1) ($files files, 2 commits, median of $runs, alternating)"
compare "smart HTTP" "$http_url"
compare "packed" "${http_url%/bench.git}/packed.git"
compare "file://" "$file_url"
