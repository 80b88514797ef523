# The timing helpers of the comparison scripts (compare.sh, compare-oci.sh), sourced by them:
# they expect $work (a scratch directory with store/, out/ and log inside) and $runs.

# Milliseconds of one run of "$@" (a fresh store and output directory first).
once() {
  rm -rf "$work/store" "$work/out"; mkdir -p "$work/out"
  local t0 t1
  t0=$(date +%s%N)
  "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; echo "failed: $*" >&2; exit 1; }
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A row: attune-pack's command and the reference's, run alternately.
pair() {
  local label=$1 ours=$2 theirs=$3 a=() b=()
  for _ in $(seq "$runs"); do
    a+=("$(once bash -c "$ours")")
    b+=("$(once bash -c "$theirs")")
  done
  local ma mb
  ma=$(printf '%s\n' "${a[@]}" | median)
  mb=$(printf '%s\n' "${b[@]}" | median)
  printf '| %s | %s ms | %s ms | %s |\n' "$label" "$ma" "$mb" "$(awk "BEGIN {printf \"%.2f\", $ma / $mb}")"
}

# Peak RSS (MiB) of one run.
rss() {
  rm -rf "$work/store"
  /usr/bin/time -f %M -o "$work/rss" "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  echo $(( $(cat "$work/rss") / 1024 ))
}
