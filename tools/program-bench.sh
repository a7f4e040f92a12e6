#!/usr/bin/env bash
# `lantern -- cat` beside websocketd running `cat` (Debian's `websocketd`), in one run, on
# 127.0.0.1: what a program per connection costs (issue 18).
#
#   tools/program-bench.sh [--pairs N] [--secs S] [--conns N] LOADGEN [BIN]
#
# LOADGEN is wsbench's C load generator (../shared/wsbench: make loadgen); BIN defaults to
# dist/lantern-linux-x86_64 (tools/release.sh --arch x86_64). N pairs (default 5), the two
# servers alternating and taking turns to go first, each fresh, pinned to CPU 0 with the load
# generator on CPU 1:
#   churn  8 loops of connect + handshake + one 32-byte echo through `cat` + close, S seconds
#          (default 5): every cycle starts and reaps one child, so cycles/s = children/s.
#   hold   N connections (default 200) held open, each with its `cat`: the server process's
#          own RSS (VmRSS) per connection above idle, and the Pss of the whole tree (server and
#          every cat, shared pages split) per connection.
# Prints every figure, the medians and lantern/websocketd.
set -euo pipefail
PAIRS=5 SECS=5 CONNS=200
while [[ $# -gt 0 && $1 == --* ]]; do
    case $1 in
        --pairs) PAIRS=$2; shift 2 ;;
        --secs) SECS=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        *) echo "program-bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ $# -ge 1 ]] || { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
LOADGEN=$1 BIN=$(realpath "${2:-dist/lantern-linux-x86_64}")
command -v websocketd >/dev/null || { echo "program-bench.sh: websocketd missing (apt-get install websocketd)" >&2; exit 2; }
PIN_SERVER=() PIN_LOAD=()
if [[ $(nproc) -ge 2 ]]; then PIN_SERVER=(taskset -c 0) PIN_LOAD=(taskset -c 1); fi
CAT=$(command -v cat)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME PORT: starts the server in the background; sets PID.
start() {
    local name=$1 port=$2
    case $name in
        lantern) "${PIN_SERVER[@]}" "$BIN" --host 127.0.0.1 --port "$port" --max-connections 4000 --log-level warn -- "$CAT" >/dev/null 2>&1 & ;;
        websocketd) "${PIN_SERVER[@]}" websocketd --address=127.0.0.1 --port="$port" --loglevel=fatal "$CAT" >/dev/null 2>&1 & ;;
    esac
    PID=$!
    "$LOADGEN" probe -p "$port" --timeout 10 >/dev/null
}

stop() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null || true; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Pss of a process and all its children, kB.
tree_pss_kb() {
    local total=0 p
    for p in $1 $(ps -o pid= --ppid "$1"); do
        total=$((total + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

churn() {
    local port; port=$(free_port)
    start "$1" "$port"
    local out; out=$("${PIN_LOAD[@]}" "$LOADGEN" churn -p "$port" -c 8 -s 32 -d "$SECS" -w 1 --payload words)
    stop
    local errors; errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$out" | tail -1)
    [[ ${errors:-1} == 0 ]] || echo "program-bench.sh: $1 churn had errors: $out" >&2
    sed -n 's/.* conns_per_s=\([0-9.]*\).*/\1/p' <<<"$out" | tail -1
}

# Prints "server_bytes_per_conn tree_bytes_per_conn".
hold() {
    local port; port=$(free_port)
    start "$1" "$port"
    sleep 0.5
    local idle; idle=$(rss_kb "$PID")
    local fifo; fifo=$(mktemp -u); mkfifo "$fifo"
    "${PIN_LOAD[@]}" "$LOADGEN" hold -p "$port" -c "$CONNS" -d 600 >"$fifo" &
    local lg=$!
    grep -q READY "$fifo"
    # Every program started: one child per connection.
    for _ in $(seq 200); do [[ $(ps -o pid= --ppid "$PID" | wc -l) -ge $CONNS ]] && break; sleep 0.05; done
    sleep 1
    local held tree; held=$(rss_kb "$PID"); tree=$(tree_pss_kb "$PID")
    kill "$lg" 2>/dev/null; wait "$lg" 2>/dev/null || true
    rm -f "$fifo"
    stop
    echo "$(( (held - idle) * 1024 / CONNS )) $(( tree * 1024 / CONNS ))"
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }

declare -A rate server tree
for i in $(seq "$PAIRS"); do
    order=(lantern websocketd)
    (( i % 2 == 0 )) && order=(websocketd lantern)
    for name in "${order[@]}"; do
        rate[$name]+="$(churn "$name") "
        read -r s t <<<"$(hold "$name")"
        server[$name]+="$s " tree[$name]+="$t "
    done
done
row() {  # row LABEL ARRAY-NAME UNIT
    local -n values=$2
    local ml mw
    ml=$(tr ' ' '\n' <<<"${values[lantern]}" | grep . | median)
    mw=$(tr ' ' '\n' <<<"${values[websocketd]}" | grep . | median)
    printf '%-34s %-36s %-36s %10.0f %10.0f %7.2f\n' "$1 ($3)" "${values[lantern]}" "${values[websocketd]}" "$ml" "$mw" \
        "$(awk -v a="$ml" -v b="$mw" 'BEGIN {print a / b}')"
}
printf '%-34s %-36s %-36s %10s %10s %7s\n' figure "lantern runs" "websocketd runs" lantern websocketd ratio
row "churn, children started+reaped" rate "per s"
row "server RSS per held connection" server "bytes"
row "tree Pss per held connection" tree "bytes"
echo "($(nproc) cores; churn ${SECS} s x 8 loops; hold ${CONNS} connections; ${PAIRS} pairs; $(uname -r))"
