#!/usr/bin/env bash
# CI entry: builds every fuzz target, replays the saved regressions and seeds, then fuzzes each
# target for N seconds (default 30), one at a time. Exits non-zero on the first failure.
# Usage: tools/fuzz/ci.sh [N]
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-30}
targets=(frame http extensions inflate)
tools/fuzz/build.sh "${targets[@]}" || exit 1
export SWIFT_BACKTRACE=enable=no
logs=.build-fuzz/logs
mkdir -p "$logs"

fail() { echo "FAIL: $1 (log: $2)" >&2; tail -n 40 "$2" >&2; exit 1; }

for t in "${targets[@]}"; do
    # Known inputs first: every seed and regression must pass (-runs=0 runs each file once).
    inputs=(tools/fuzz/seeds/"$t")
    [ -d tools/fuzz/regressions/"$t" ] && inputs+=(tools/fuzz/regressions/"$t")
    .build-fuzz/fuzz-"$t" -runs=0 "${inputs[@]}" >"$logs/$t-replay.log" 2>&1 || fail "$t replay" "$logs/$t-replay.log"
    echo "$t: replayed ${inputs[*]}"
    tools/fuzz/run.sh "$t" "$seconds" >"$logs/$t.log" 2>&1 || fail "$t fuzzing" "$logs/$t.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logs/$t.log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logs/$t.log")
    echo "$t: ${seconds}s, ${runs:-?} executions, ${rate:-?} exec/s, no crash"
done
echo "fuzz: all targets passed"
