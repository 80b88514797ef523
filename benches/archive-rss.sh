#!/usr/bin/env bash
# Peak RSS (GNU time) of archive installs that must stay flat: a .tar.gz holding one 1 GiB
# member (zeros: small to store, all of it inflated and written) and a zip of 100,000 small
# entries (the default entry limit). Usage: [TMPDIR=/dev/shm] [BIN=path] benches/archive-rss.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=$PWD/target/release/attune-pack
fi
work=$(mktemp -d "${TMPDIR:-/dev/shm}/archive-rss.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/big"
printf 'ref: big\nversion: 1.0.0\n' >"$work/big/pack.yaml"
head -c 1G /dev/zero >"$work/big/member.bin"
tar -C "$work/big" -czf "$work/big.tar.gz" .
rm -rf "$work/big"
python3 - "$work/many.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("pack.yaml", "ref: many\nversion: 1.0.0\n")
    for i in range(99_999):
        z.writestr(f"actions/g{i % 100}/a{i}.yaml", f"name: a{i}\n")
PY

for archive in big.tar.gz many.zip; do
  rm -rf "$work/store"
  /usr/bin/time -f '%e %M' -o "$work/time" "$BIN" --packs-dir "$work/store" -q install --skip-tests "$work/$archive" >/dev/null
  read -r secs kb <"$work/time"
  printf '%-12s %6s s  peak RSS %4d MiB\n' "$archive" "$secs" "$((kb / 1024))"
done
