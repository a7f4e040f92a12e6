/// Slows down guessing of the access token: failed attempts per client address, as a token
/// bucket kept as one "debt paid off at" time per address (the GCRA form: no timers, one
/// `Int64` a client). A client may fail `burst` times in a row, then once more every
/// `intervalMs`; while it may not, it is refused (429) without its token being looked at.
///
/// Pure: the time is passed in (milliseconds of a monotonic clock, `Int64` so a box up for
/// months cannot overflow it on 32-bit CPUs), and the caller serialises access.
public struct FailureLimiter: Sendable {
    /// Failures allowed in a row from a fresh address.
    public let burst: Int64
    /// One more failure is allowed per this many milliseconds.
    public let intervalMs: Int64
    /// Addresses remembered at most: a flood of addresses cannot grow memory past this.
    public let capacity: Int

    /// Per address key: the time at which its failures are all paid off.
    private var paidOffAt: [[UInt8]: Int64] = [:]

    public init(burst: Int = 5, intervalMs: Int64 = 10_000, capacity: Int = 1024) {
        precondition(burst >= 1 && intervalMs >= 1 && capacity >= 1)
        self.burst = Int64(burst)
        self.intervalMs = intervalMs
        self.capacity = capacity
    }

    /// Addresses currently remembered.
    public var count: Int { paidOffAt.count }

    /// Milliseconds until `key` may try again, or nil when it may try now.
    public func retryAfterMs(_ key: [UInt8], now: Int64) -> Int64? {
        guard let due = paidOffAt[key] else { return nil }
        // Allowed while at most burst - 1 failures are still unpaid.
        let wait = due - now - (burst - 1) * intervalMs
        return wait > 0 ? wait : nil
    }

    /// Whole seconds to announce in Retry-After (RFC 9110 §10.2.3): rounded up, at least 1.
    public static func retryAfterSeconds(_ ms: Int64) -> Int64 { max(1, (ms + 999) / 1000) }

    /// Counts one failure for `key` at `now`.
    public mutating func recordFailure(_ key: [UInt8], now: Int64) {
        if paidOffAt[key] == nil && paidOffAt.count >= capacity { evict(now: now) }
        // A debt never grows past the burst: a client kept waiting does not wait ever longer.
        let start = max(paidOffAt[key] ?? now, now)
        paidOffAt[key] = min(start + intervalMs, now + burst * intervalMs)
    }

    /// Makes room for one address: first forget every address whose failures are paid off
    /// (they behave as new ones anyway), else the one closest to being paid off.
    private mutating func evict(now: Int64) {
        paidOffAt = paidOffAt.filter { $0.value > now }
        guard paidOffAt.count >= capacity, let stalest = paidOffAt.min(by: { $0.value < $1.value }) else { return }
        paidOffAt[stalest.key] = nil
    }
}
