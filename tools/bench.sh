#!/usr/bin/env bash
# Lantern's benchmark: one command, nothing else to install.
#
#   tools/bench.sh [--no-build] [--secs N] [--warmup N] [--runs N] [--no-pin]
#                  [--loadgen PATH] [--no-skip-first] [-- EXTRA LANTERN FLAGS...]
#
# 1. Builds the static server (tools/release.sh -> dist/lantern; --no-build reuses it) and the
#    load generator (swift build -c release --product lantern-bench, scratch path .build-bench).
# 2. Starts dist/lantern on 127.0.0.1 on a free port (--port 0, the port read from its first
#    stdout line) with --max-connections 4000; with 2 or more CPUs the server is pinned to CPU 0
#    and the load generator to CPU 1 (taskset).
# 3. Runs the matrix of ../shared/wsbench: idle RSS; hold 1000 connections (RSS, KB per
#    connection); echo 1x32 B text; echo 64x32 B text; echo 16x64 KiB binary; echo 16x2 KiB
#    JSON-like text with permessage-deflate; churn with 8 slots. Every echo is verified byte for
#    byte. Rate rows print the median of --runs runs (3) of --secs seconds (3) after --warmup (1).
# 4. Prints a table; exits 1 if any run saw an error (a wrong echo, a refused or dropped connection).
# 5. Prints what the system zlib alone costs per message of the deflate row at Lantern's and the
#    peers' window / memLevel settings (lantern-bench zlib, on the load generator's CPU).
#
# --loadgen PATH runs the rate rows with wsbench's C loadgen instead (same flags and RESULT keys),
# to cross-check lantern-bench. Columns: srv% / lg% = CPU of server / load generator over the
# measured window (100 = one core); lg% near 100 means the load generator was the limit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD=1 SECS=3 WARMUP=1 RUNS=3 PIN=1 LOADGEN="" SKIP_FIRST=1
EXTRA=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-build) BUILD=0 ;;
        --secs) SECS=$2; shift ;;
        --warmup) WARMUP=$2; shift ;;
        --runs) RUNS=$2; shift ;;
        --no-pin) PIN=0 ;;
        --loadgen) LOADGEN=$2; shift ;;
        --no-skip-first) SKIP_FIRST=0 ;;
        --) shift; EXTRA=("$@"); break ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

# 1. Build.
if [[ $BUILD == 1 || ! -x dist/lantern ]]; then
    tools/release.sh >&2
fi
swift build -c release --product lantern-bench --scratch-path .build-bench >&2
BENCH=$(swift build -c release --product lantern-bench --scratch-path .build-bench --show-bin-path)/lantern-bench
LG=${LOADGEN:-$BENCH}
[[ -x $LG ]] || { echo "bench.sh: no load generator at $LG" >&2; exit 1; }

# 2. Start the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
SRV_PIN=() LG_PIN=() PINNING="none"
if [[ $PIN == 1 ]] && command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then
    SRV_PIN=(taskset -c 0) LG_PIN=(taskset -c 1) PINNING="server on CPU 0, load generator on CPU 1"
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lantern-bench.XXXXXX")
SRV_PID=""
cleanup() {
    if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -TERM "$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${SRV_PIN[@]}" dist/lantern --host 127.0.0.1 --port 0 --max-connections 4000 ${EXTRA[@]+"${EXTRA[@]}"} \
    >"$WORK/server.out" 2>"$WORK/server.err" </dev/null &
SRV_PID=$!
PORT=""
for _ in $(seq 100); do
    line=$(head -n 1 "$WORK/server.out" 2>/dev/null || true)
    if [[ $line =~ ^lantern\ listening\ on\ .*:([0-9]+)$ ]]; then PORT=${BASH_REMATCH[1]}; break; fi
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.1
done
[[ -n $PORT ]] || { echo "bench.sh: the server did not start:" >&2; cat "$WORK/server.err" >&2; exit 1; }
sleep 1

COMMON=(-p "$PORT")
PID_ARG=(--pid "$SRV_PID")          # server CPU (srv%); wsbench's loadgen has no such flag
[[ -z $LOADGEN ]] || PID_ARG=()
[[ $SKIP_FIRST == 1 ]] && COMMON+=(--skip-first)

kv() { # kv "RESULT line" key -> value
    local k
    for k in $1; do [[ $k == "$2="* ]] && { echo "${k#*=}"; return; }; done
    echo "-"
}
median() { # median of the arguments ("-" when none is numeric)
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SRV_PID/status"; }

machine="$(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), Linux $(uname -r)"
echo "Lantern benchmark: $(dist/lantern --version), dist/lantern $(stat -c %s dist/lantern) bytes, port $PORT"
echo "machine: $machine; pinning: $PINNING"
echo "load generator: $([[ -n $LOADGEN ]] && echo "$LOADGEN" || echo lantern-bench); rate rows: median of $RUNS x ${SECS} s after ${WARMUP} s warm-up"
echo

ERRORS=0
declare -a ROWS=()

# 3a. Idle RSS and hold.
IDLE_KB=$(rss_kb)
if [[ -z $LOADGEN ]]; then
    hold=$("${LG_PIN[@]}" "$LG" hold "${COMMON[@]}" -c 1000 -d 2 --timeout 30 --pid "$SRV_PID" | grep '^RESULT' || true)
    HOLD_KB=$(kv "$hold" rss_hold_kb)
else
    "${LG_PIN[@]}" "$LG" hold "${COMMON[@]}" -c 1000 -d 2 --timeout 30 >"$WORK/hold.out" 2>/dev/null &
    hold_pid=$!
    for _ in $(seq 300); do grep -q '^READY' "$WORK/hold.out" && break; sleep 0.1; done
    sleep 1
    HOLD_KB=$(rss_kb)
    wait "$hold_pid" || true
    hold=$(grep '^RESULT' "$WORK/hold.out" || true)
fi
held=$(kv "$hold" established) hold_errors=$(kv "$hold" errors)
[[ $held == 1000 && $hold_errors == 0 ]] || ERRORS=$((ERRORS + 1))
per_conn=$(awk -v a="$IDLE_KB" -v b="$HOLD_KB" -v n="$held" 'BEGIN { if (n > 0 && b > 0) printf "%.1f", (b - a) / n; else print "-" }')

# 3b. Rate rows: label, then load generator arguments.
rate_row() {
    local label=$1; shift
    local rates=() mbs=() p50s=() p99s=() srvs=() lgs=() errs=0 i line mode
    for i in $(seq "$RUNS"); do
        line=$("${LG_PIN[@]}" "$LG" "$@" "${COMMON[@]}" "${PID_ARG[@]}" -d "$SECS" -w "$WARMUP" 2>"$WORK/lg.err" | grep '^RESULT' || true)
        [[ -n $line ]] || { line="RESULT errors=1"; echo "bench.sh: $label: $(tail -n 1 "$WORK/lg.err")" >&2; }
        mode=$(kv "$line" mode)
        if [[ $mode == churn ]]; then rates+=("$(kv "$line" conns_per_s)"); else rates+=("$(kv "$line" msgs_per_s)"); fi
        mbs+=("$(kv "$line" mb_per_s)") p50s+=("$(kv "$line" p50_us)") p99s+=("$(kv "$line" p99_us)")
        srvs+=("$(kv "$line" srv_cpu_pct)") lgs+=("$(kv "$line" lg_cpu_pct)")
        local e; e=$(kv "$line" errors); [[ $e == 0 ]] || errs=$((errs + ${e/-/1}))
    done
    [[ $errs == 0 ]] || ERRORS=$((ERRORS + 1))
    ROWS+=("$(printf '%-24s %10s %9s %9s %9s %5s %5s %6s  %s' "$label" "$(median "${rates[@]}")" "$(median "${mbs[@]}")" \
        "$(median "${p50s[@]}")" "$(median "${p99s[@]}")" "$(median "${srvs[@]}")" "$(median "${lgs[@]}")" "$errs" "${rates[*]}")")
    echo "  done: $label" >&2
}

rate_row "echo 1x32 B text" echo -c 1 -s 32
rate_row "echo 64x32 B text" echo -c 64 -s 32
rate_row "echo 16x64 KiB binary" echo -c 16 -s 65536 --binary
rate_row "deflate 16x2 KiB JSON" echo -c 16 -s 2048 --deflate
rate_row "churn 8 (conns/s)" churn -c 8 -s 32

# 4. Table.
printf '%-24s %10s\n' "RSS idle" "$IDLE_KB KB"
printf '%-24s %10s  (%s KB per connection, %s/1000 connected, errors %s)\n' "RSS hold 1000" "$HOLD_KB KB" "$per_conn" "$held" "$hold_errors"
echo
printf '%-24s %10s %9s %9s %9s %5s %5s %6s  %s\n' "row" "msgs/s" "MB/s" "p50 us" "p99 us" "srv%" "lg%" "errors" "runs"
printf '%s\n' "${ROWS[@]}"
echo
"${LG_PIN[@]}" "$BENCH" zlib -s 2048 -d 1 || ERRORS=$((ERRORS + 1))
if [[ $ERRORS != 0 ]]; then
    echo "bench.sh: $ERRORS row(s) with errors; server log: $(tail -n 3 "$WORK/server.err" | tr '\n' ' ')" >&2
    exit 1
fi
