#!/usr/bin/env bash
# Runs one fuzz target for SECONDS (default 60) on its corpus .build-fuzz/corpus/TARGET, seeded
# from tools/fuzz/seeds/TARGET. Crashes land in .build-fuzz/artifacts/TARGET/.
# Usage: tools/fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tools/fuzz/run.sh frame|http|extensions|inflate [SECONDS] [libFuzzer flags...]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
binary=.build-fuzz/fuzz-$target
[ -x "$binary" ] || tools/fuzz/build.sh "$target"
corpus=.build-fuzz/corpus/$target
artifacts=.build-fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"
cp -n tools/fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
# Swift's own crash backtracer fights ASan (its memory server reads wild addresses through
# ASan's memcpy and hangs the run); libFuzzer + ASan print the stack instead.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
exec "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$corpus"
