#if canImport(Glibc)
import Glibc
#endif

/// Milliseconds on a clock that never jumps (timeouts must not follow wall-clock changes).
enum MonotonicClock {
    static func nowMs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
    }

    /// Microseconds on the same clock, for spans too short for `nowMs`.
    static func nowUs() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
    }
}
