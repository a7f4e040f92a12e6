/// When to ping a silent peer and when to give up on it (pure: time is passed in). Times are
/// readings of `MonotonicClock.nowMs()` (`Int64`); intervals and waits are `Int` milliseconds.
struct Heartbeat {
    enum Action { case ping, close, wait }

    private let pingIntervalMs: Int
    private let idleTimeoutMs: Int
    private var lastHeardMs: Int64
    private var lastPingMs: Int64?

    init(limits: Limits, now: Int64) {
        pingIntervalMs = limits.pingIntervalMs
        idleTimeoutMs = limits.idleTimeoutMs
        lastHeardMs = now
    }

    /// Anything arriving from the peer (data, pong, anything) proves it is alive.
    mutating func heard(now: Int64) {
        lastHeardMs = now
        lastPingMs = nil
    }

    /// How long the next read may block: until the next ping is due or the idle limit, whichever
    /// comes first (right after `heard`, simply the smaller of the two settings); 0 (no timeout)
    /// when both are 0, which means never.
    func nextWaitMs(now: Int64) -> Int {
        var due = Int64.max
        if idleTimeoutMs > 0 { due = lastHeardMs + Int64(idleTimeoutMs) }
        if pingIntervalMs > 0 { due = min(due, (lastPingMs ?? lastHeardMs) + Int64(pingIntervalMs)) }
        return due == Int64.max ? 0 : max(1, MonotonicClock.msUntil(due, now: now))
    }

    mutating func timedOut(now: Int64) -> Action {
        let silent = now - lastHeardMs
        if idleTimeoutMs > 0 && silent >= Int64(idleTimeoutMs) { return .close }
        if pingIntervalMs > 0 && silent >= Int64(pingIntervalMs) && (lastPingMs.map { now - $0 >= Int64(pingIntervalMs) } ?? true) {
            lastPingMs = now
            return .ping
        }
        return .wait
    }
}
