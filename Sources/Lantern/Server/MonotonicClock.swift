#if canImport(Glibc)
import Glibc
#endif

/// Time on a clock that never jumps (timeouts must not follow wall-clock changes).
enum MonotonicClock {
    static func nowMs() -> Int { now(unitsPerSecond: 1000) }

    /// Microseconds, for spans too short for `nowMs`.
    static func nowUs() -> Int { now(unitsPerSecond: 1_000_000) }

    private static func now(unitsPerSecond: Int) -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * unitsPerSecond + ts.tv_nsec / (1_000_000_000 / unitsPerSecond)
    }
}
