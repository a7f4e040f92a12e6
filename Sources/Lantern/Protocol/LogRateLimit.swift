/// How many of a program's stderr lines reach the log: a burst, then a steady rate (a token
/// bucket), so a program printing errors in a loop cannot flood the box's log or its disk.
public struct LogRateLimit: Sendable {
    public let burst: Int
    public let perSecond: Int
    private var tokens: Int
    private var lastRefillMs: Int64
    /// Lines dropped since the last one let through, to report with the next.
    public private(set) var dropped: UInt64 = 0

    public init(burst: Int, perSecond: Int, nowMs: Int64) {
        self.burst = burst
        self.perSecond = perSecond
        tokens = burst
        lastRefillMs = nowMs
    }

    /// Whether a line may be logged now; when it may, `dropped` tells how many were held back
    /// before it (the caller reports them, then calls `reported`).
    public mutating func allow(nowMs: Int64) -> Bool {
        // Int64 milliseconds: the gap since the last refill overflows no 32-bit Int here.
        let elapsed = nowMs - lastRefillMs
        if elapsed > 0 {
            let earned = elapsed * Int64(perSecond) / 1000
            if earned > 0 {
                tokens = Int(min(Int64(burst), Int64(tokens) + earned))
                lastRefillMs = nowMs
            }
        }
        guard tokens > 0 else {
            dropped &+= 1
            return false
        }
        tokens -= 1
        return true
    }

    public mutating func reported() { dropped = 0 }
}
