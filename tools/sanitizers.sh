#!/usr/bin/env bash
# Runs the integration tests against ThreadSanitizer and AddressSanitizer builds of the server.
#
#   tools/sanitizers.sh                 # both, the whole IntegrationTests target
#   tools/sanitizers.sh thread          # one of them
#   FILTER=HardeningTests tools/sanitizers.sh address
#   SKIP=HardeningTests tools/sanitizers.sh thread     # everything else
#
# The test runner itself is an ordinary debug build (TEST_SCRATCH, built here unless
# SKIP_TEST_BUILD=1); only the spawned `lantern` is sanitized, found through LANTERN_BIN.
# LANTERN_SANITIZER tells the tests that the server is sanitized (memory bounds are not
# asserted, the churn is shorter, the address-space test is skipped). Sanitizer reports go to
# files (log_path), one per server process, so they cannot be lost in the stderr the tests parse;
# the script prints the first frames of each and fails when there is any report or failing test.
# atexit_sleep_ms=0: TSan otherwise sleeps 1 s in _exit while other threads live, which pushes
# every SIGTERM exit past the 2 s the shutdown tests allow.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

KINDS=${*:-thread address}
FILTER=${FILTER:-IntegrationTests}
SKIP=${SKIP:-}
TEST_SCRATCH=${TEST_SCRATCH:-.build-sanitizer-tests}
TIMEOUT=${TIMEOUT:-1500}
status=0

if [[ ${SKIP_TEST_BUILD:-0} != 1 ]]; then
    swift build --build-tests --scratch-path "$TEST_SCRATCH"
fi

for kind in $KINDS; do
    case $kind in
        thread) short=tsan; var=TSAN_OPTIONS; extra="halt_on_error=0 second_deadlock_stack=1 atexit_sleep_ms=0" ;;
        address) short=asan; var=ASAN_OPTIONS; extra="halt_on_error=0 detect_leaks=0" ;;
        *) echo "sanitizers.sh: unknown sanitizer '$kind' (thread|address)" >&2; exit 2 ;;
    esac
    scratch=.build-$short
    echo "=== $kind: building lantern in $scratch"
    swift build --scratch-path "$scratch" -Xswiftc -sanitize="$kind" --product lantern
    bin="$(swift build --scratch-path "$scratch" -Xswiftc -sanitize="$kind" --show-bin-path)/lantern"
    reports="$PWD/$scratch/reports"
    rm -rf "$reports"
    mkdir -p "$reports"
    echo "=== $kind: swift test --filter $FILTER ${SKIP:+--skip $SKIP }against $bin"
    set +e
    env LANTERN_BIN="$bin" LANTERN_SANITIZER="$kind" "$var=log_path=$reports/$short $extra" \
        timeout "$TIMEOUT" swift test --scratch-path "$TEST_SCRATCH" --skip-build --filter "$FILTER" ${SKIP:+--skip "$SKIP"} 2>&1 |
        tee "$reports/test-output.txt" | grep -E '^(✘|✔ Test run|hardening:)|Test run with'
    test_status=${PIPESTATUS[0]}
    set -e
    count=$(find "$reports" -name "$short.*" | wc -l)
    echo "=== $kind: swift test exit status $test_status; $count sanitizer report file(s) in $reports"
    for file in "$reports"/"$short".*; do
        [[ -e $file ]] || continue
        echo "--- $file"
        # The headline and the first frames of each report in the file.
        grep -E -A12 '^(WARNING|ERROR): (ThreadSanitizer|AddressSanitizer)' "$file" | grep -E '^(WARNING|ERROR)|^ *#[0-5] |^  (Write|Read|Previous|Location|Mutex|Thread)' | head -60
    done
    if [[ $test_status != 0 || $count != 0 ]]; then status=1; fi
done
exit $status
