#if canImport(Glibc)
import Glibc
#endif

/// Time on a clock that never jumps (timeouts must not follow wall-clock changes).
///
/// Readings are `Int64`: on 32-bit ARM `Int` is 32 bits, and CLOCK_MONOTONIC counts from boot,
/// so microseconds pass 2^31 after 36 minutes of uptime and milliseconds after 25 days. Durations
/// (timeouts, limits) stay `Int`: the flags bound them well below 2^31 ms.
enum MonotonicClock {
    static func nowMs() -> Int64 { now(unitsPerSecond: 1000) }

    /// Microseconds, for spans too short for `nowMs`.
    static func nowUs() -> Int64 { now(unitsPerSecond: 1_000_000) }

    private static func now(unitsPerSecond: Int64) -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return reading(seconds: Int64(ts.tv_sec), nanoseconds: Int64(ts.tv_nsec), unitsPerSecond: unitsPerSecond)
    }

    /// The arithmetic, apart so tests can feed it readings from a box that has been up for years.
    static func reading(seconds: Int64, nanoseconds: Int64, unitsPerSecond: Int64) -> Int64 {
        seconds * unitsPerSecond + nanoseconds / (1_000_000_000 / unitsPerSecond)
    }

    /// Milliseconds from now until `deadline`, as a duration for a socket timeout or `poll`
    /// (clamped into `Int`; negative once it has passed).
    static func msUntil(_ deadline: Int64, now: Int64 = nowMs()) -> Int {
        Int(clamping: deadline - now)
    }
}
