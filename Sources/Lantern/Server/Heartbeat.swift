/// When to ping a silent peer and when to give up on it (pure: time is passed in).
struct Heartbeat {
    enum Action { case ping, close, wait }

    private let pingIntervalMs: Int
    private let idleTimeoutMs: Int
    private var lastHeardMs: Int
    private var lastPingMs: Int?

    init(limits: Limits, now: Int) {
        pingIntervalMs = limits.pingIntervalMs
        idleTimeoutMs = limits.idleTimeoutMs
        lastHeardMs = now
    }

    /// Anything arriving from the peer (data, pong, anything) proves it is alive.
    mutating func heard(now: Int) {
        lastHeardMs = now
        lastPingMs = nil
    }

    /// How long the next read may block: until the next ping is due or the idle limit, whichever
    /// comes first (right after `heard`, simply the smaller of the two settings); 0 (no timeout)
    /// when both are 0, which means never.
    func nextWaitMs(now: Int) -> Int {
        var due = Int.max
        if idleTimeoutMs > 0 { due = lastHeardMs + idleTimeoutMs }
        if pingIntervalMs > 0 { due = min(due, (lastPingMs ?? lastHeardMs) + pingIntervalMs) }
        return due == Int.max ? 0 : max(1, due - now)
    }

    mutating func timedOut(now: Int) -> Action {
        let silent = now - lastHeardMs
        if idleTimeoutMs > 0 && silent >= idleTimeoutMs { return .close }
        if pingIntervalMs > 0 && silent >= pingIntervalMs && (lastPingMs.map { now - $0 >= pingIntervalMs } ?? true) {
            lastPingMs = now
            return .ping
        }
        return .wait
    }
}
