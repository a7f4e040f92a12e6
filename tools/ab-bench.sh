#!/usr/bin/env bash
# A/B of two server binaries in one run, for "did this change cost anything?".
#
#   tools/ab-bench.sh [--pairs N] [--secs S] [--rows NAMES] LOADGEN BIN_A BIN_B
#
# LOADGEN is wsbench's C load generator (../shared/wsbench: make loadgen). For each row (echo
# 1x32 B, 64x32 B, 16x64 KiB binary, 16x2 KiB text with permessage-deflate) the two binaries run
# alternately, N pairs (default 5) of S seconds (default 3), each on a fresh server pinned to
# CPU 0 with the load generator on CPU 1. Prints every rate, the medians and B/A. --rows takes a
# comma list of row names (1x32B,64x32B,16x64KiB,deflate16x2KiB) to rerun a noisy one with more pairs.
set -euo pipefail
PAIRS=5 SECS=3 ROWS=""
while [[ $# -gt 3 ]]; do
    case $1 in
        --pairs) PAIRS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --rows) ROWS=",$2,"; shift 2 ;;
        *) echo "ab-bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $# -eq 3 ]] || { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
LOADGEN=$1 A=$2 B=$3
PIN_SERVER=() PIN_LOAD=()
if [[ $(nproc) -ge 2 ]]; then PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1); fi

# Runs one echo measurement against a fresh server; prints msgs_per_s.
measure() {
    local bin=$1; shift
    local log; log=$(mktemp)
    "${PIN_SERVER[@]}" "$bin" --host 127.0.0.1 --port 0 --max-connections 4000 --log-level warn >"$log" 2>&1 &
    local pid=$!
    local port=""
    for _ in $(seq 100); do
        port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [[ -n $port ]] && break
        sleep 0.05
    done
    [[ -n $port ]] || { echo "ab-bench.sh: $bin did not start" >&2; cat "$log" >&2; exit 1; }
    local out
    out=$("${PIN_LOAD[@]}" "$LOADGEN" echo -p "$port" -d "$SECS" -w 1 --skip-first "$@")
    kill -TERM $pid; wait $pid 2>/dev/null || true
    rm -f "$log"
    local errors; errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    [[ ${errors:-1} == 0 ]] || { echo "ab-bench.sh: errors in: $out" >&2; exit 1; }
    sed -n 's/.* msgs_per_s=\([0-9.]*\).*/\1/p' <<<"$out" | tail -1
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

printf '%-22s %-40s %-40s %9s %9s %6s\n' row "A rates" "B rates" "A median" "B median" "B/A"
for row in "1x32B:-c 1 -s 32" "64x32B:-c 64 -s 32" "16x64KiB:-c 16 -s 65536 --binary" "deflate16x2KiB:-c 16 -s 2048 --deflate"; do
    name=${row%%:*}
    [[ -z $ROWS || $ROWS == *",$name,"* ]] || continue
    read -r -a flags <<<"${row#*:}"
    as=() bs=()
    for _ in $(seq "$PAIRS"); do
        as+=("$(measure "$A" "${flags[@]}")")
        bs+=("$(measure "$B" "${flags[@]}")")
    done
    ma=$(printf '%s\n' "${as[@]}" | median)
    mb=$(printf '%s\n' "${bs[@]}" | median)
    printf '%-22s %-40s %-40s %9.0f %9.0f %6.3f\n' "$name" "$(printf '%.0f ' "${as[@]}")" "$(printf '%.0f ' "${bs[@]}")" \
        "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN {print b / a}')"
done
