#!/usr/bin/env bash
# Offline bundles of 20 packs with the release binary: 10 archive packs served over HTTP
# (python3 http.server on 127.0.0.1) and 10 git packs (file:// bare repositories), FILES files
# each, listed in one local index. Prints the bundle's size, the median wall time of
# `bundle create` (all 20) and of `install --bundle` of all 20 into an empty store, the
# latter run as `env -i PATH=/nonexistent` with the server stopped.
# Usage: [ATTUNE_PACK=BIN] benches/bundle.sh [FILES] [RUNS]. Needs python3, git and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100}
runs=${2:-3}
bin=${ATTUNE_PACK:-$PWD/target/release/attune-pack}
[ -n "${ATTUNE_PACK:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/git"
refs=()
for i in $(seq -w 1 10); do
  python3 benches/gen-pack.py "$work/src/arc$i" "$files" "arc$i"
  tar -C "$work/src/arc$i" -czf "$work/www/arc$i.tar.gz" .
  "$bin" -q index update "$work/www/index.json" "$work/src/arc$i" --archive-url "http://127.0.0.1:$port/arc$i.tar.gz" --archive "$work/www/arc$i.tar.gz" >/dev/null 2>&1
  python3 benches/gen-pack.py "$work/src/git$i" "$files" "git$i"
  g() { git -C "$work/src/git$i" -c user.name=b -c user.email=b@b "$@" >/dev/null; }
  g init -b main && g add -A && g commit -m one && g tag v1.0.0
  git clone --quiet --bare "$work/src/git$i" "$work/git/git$i.git"
  "$bin" -q index update "$work/www/index.json" "$work/src/git$i" --git-url "file://$work/git/git$i.git" >/dev/null 2>&1
  refs+=("arc$i" "git$i")
done
(cd "$work/www" && exec python3 -m http.server -b 127.0.0.1 "$port" >/dev/null 2>&1) & pid=$!
# A local index: it may name file:// repositories (an index fetched over http(s) may not).
printf 'pack_registry:\n  allow_http: true\n  indices:\n    - {name: bench, url: "%s"}\n' "$work/www/index.json" >"$work/config.yaml"
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/index.json" >/dev/null 2>&1 && break; sleep 0.1; done

# median of the wall times (ms) of "$@" run $runs times, `prep` before each
median() {
  local prep=$1; shift
  local times=()
  for _ in $(seq "$runs"); do
    eval "$prep"
    local t0 t1
    t0=$(date +%s%N)
    "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=("$(( (t1 - t0) / 1000000 ))")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

create_ms=$(median 'rm -rf "$work/cache" "$work/site.bundle"' \
  "$bin" --config "$work/config.yaml" --cache-dir "$work/cache" --packs-dir "$work/unused" \
  bundle create -o "$work/site.bundle" "${refs[@]}")
size=$(stat -c %s "$work/site.bundle")
kill "$pid"; pid=
install_ms=$(median 'rm -rf "$work/packs"' \
  env -i PATH=/nonexistent "$bin" --packs-dir "$work/packs" -q \
  install --bundle "$work/site.bundle" --skip-tests "${refs[@]}")
echo "20 packs of $files files ($(du -sb "$work/src" | cut -f1) bytes of files), median of $runs:"
echo "  bundle size:      $size bytes"
echo "  bundle create:    $create_ms ms (fetch over HTTP and file://, verify, write)"
echo "  install --bundle: $install_ms ms (all 20, network gone, PATH empty)"
