#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One relaxed atomic counter (a class, so counters can live in arrays). 64 bits on every CPU:
/// on 32-bit ARM an `Int` byte counter would go negative after 2 GiB.
final class Counter: Sendable {
    private let atomic = Atomic<UInt64>(0)
    @inline(__always) func add(_ n: Int) { atomic.wrappingAdd(UInt64(truncatingIfNeeded: n), ordering: .relaxed) }
    var value: UInt64 { atomic.load(ordering: .relaxed) }
}

/// Process-wide counters for /metrics. Relaxed atomics: the echo path never takes a lock for them.
final class Metrics: Sendable {
    let connectionsAccepted = Counter()
    let upgrades = Counter()
    let messagesIn = Counter()
    let messagesOut = Counter()
    let bytesIn = Counter()
    let bytesOut = Counter()
    /// Payload bytes that travelled compressed, as sent on the wire and as they inflate.
    let compressedBytesIn = Counter()
    let inflatedBytesIn = Counter()
    let compressedBytesOut = Counter()
    let uncompressedBytesOut = Counter()
    let httpRequests = Counter()
    /// Refused upgrades and requests by HTTP status.
    private let refusals: [Counter]
    private let refusalStatuses = HTTPError.statuses
    /// Access-token refusals (upgrades and /metrics): none offered, a wrong (or over-long)
    /// one, and addresses held back by the failure limiter.
    let accessMissing = Counter()
    let accessWrong = Counter()
    let accessLimited = Counter()
    /// Exec mode: programs started, ended by exit status class, and signalled by Lantern.
    let programsStarted = Counter()
    let programsKilled = Counter()
    private let programExits = [Counter(), Counter(), Counter()]
    /// Closes by close code (1000...1015), anything else in `otherCloses`.
    private let closes: [Counter]
    private let otherCloses = Counter()

    init() {
        refusals = refusalStatuses.map { _ in Counter() }
        closes = (0..<16).map { _ in Counter() }
    }

    func refused(_ error: HTTPError) {
        if let i = refusalStatuses.firstIndex(of: error.status) { refusals[i].add(1) }
    }

    func accessRefused(_ verdict: AccessVerdict?) {
        switch verdict {
        case nil: accessLimited.add(1)
        case .missing?: accessMissing.add(1)
        case .wrong?, .tooLong?: accessWrong.add(1)
        case .granted?: break
        }
    }

    func programExited(_ exit: ProgramExit) {
        switch exit {
        case .exited(0): programExits[0].add(1)
        case .exited: programExits[1].add(1)
        case .signaled: programExits[2].add(1)
        }
    }

    func closed(_ code: CloseCode) {
        let i = Int(code.rawValue) - 1000
        if i >= 0 && i < closes.count { closes[i].add(1) } else { otherCloses.add(1) }
    }

    /// The Prometheus text exposition format (version 0.0.4).
    func render(openConnections: Int, activeConnections: Int, deflateBytes: Int) -> String {
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, UInt64)]) {
            out += "# HELP lantern_\(name) \(help)\n# TYPE lantern_\(name) \(type)\n"
            for (labels, value) in samples { out += "lantern_\(name)\(labels) \(value)\n" }
        }
        func load(_ c: Counter) -> UInt64 { c.value }
        func gauge(_ n: Int) -> UInt64 { UInt64(max(0, n)) }
        metric("websocket_connections_open", "gauge", "Open WebSocket connections.", [("", gauge(openConnections))])
        metric("connections_active", "gauge", "Open TCP connections (HTTP and WebSocket).", [("", gauge(activeConnections))])
        metric("connections_total", "counter", "TCP connections accepted.", [("", load(connectionsAccepted))])
        metric("websocket_upgrades_total", "counter", "Successful WebSocket upgrades.", [("", load(upgrades))])
        metric("http_requests_total", "counter", "Plain HTTP requests answered.", [("", load(httpRequests))])
        metric("messages_received_total", "counter", "WebSocket messages received.", [("", load(messagesIn))])
        metric("messages_sent_total", "counter", "WebSocket messages sent.", [("", load(messagesOut))])
        metric("bytes_received_total", "counter", "Message payload bytes received (as inflated).", [("", load(bytesIn))])
        metric("bytes_sent_total", "counter", "Message payload bytes sent (before compression).", [("", load(bytesOut))])
        metric("deflate_bytes_received_total", "counter", "Compressed message bytes received, on the wire and inflated.",
               [("{form=\"compressed\"}", load(compressedBytesIn)), ("{form=\"uncompressed\"}", load(inflatedBytesIn))])
        metric("deflate_bytes_sent_total", "counter", "Compressed message bytes sent, before and after compression.",
               [("{form=\"uncompressed\"}", load(uncompressedBytesOut)), ("{form=\"compressed\"}", load(compressedBytesOut))])
        var refused: [(String, UInt64)] = []
        for (i, status) in refusalStatuses.enumerated() { refused.append(("{status=\"\(status)\"}", load(refusals[i]))) }
        metric("requests_refused_total", "counter", "Requests and upgrades refused, by HTTP status.", refused)
        metric("access_denied_total", "counter", "Upgrades and /metrics requests refused by the access token check, by reason.",
               [("{reason=\"missing\"}", load(accessMissing)), ("{reason=\"wrong\"}", load(accessWrong)), ("{reason=\"limited\"}", load(accessLimited))])
        var closed: [(String, UInt64)] = []
        for i in 0..<closes.count {
            let n = load(closes[i])
            if n > 0 || i <= 11 { closed.append(("{code=\"\(1000 + i)\"}", n)) }
        }
        closed.append(("{code=\"other\"}", load(otherCloses)))
        metric("websocket_closes_total", "counter", "WebSocket connections ended, by close code (1006: no close frame).", closed)
        metric("programs_started_total", "counter", "Programs started for WebSocket connections (lantern -- PROGRAM).", [("", load(programsStarted))])
        metric("programs_exited_total", "counter", "Programs reaped, by how they ended.",
               [("{status=\"zero\"}", load(programExits[0])), ("{status=\"nonzero\"}", load(programExits[1])), ("{status=\"signal\"}", load(programExits[2]))])
        metric("programs_killed_total", "counter", "Programs Lantern had to signal (SIGTERM, then SIGKILL) after closing their stdin.", [("", load(programsKilled))])
        metric("deflate_memory_bytes", "gauge", "Live zlib memory.", [("", gauge(deflateBytes))])
        metric("resident_memory_bytes", "gauge", "Resident set size of the process.", [("", Metrics.residentBytes())])
        return out
    }

    /// RSS from /proc/self/statm (second field, in pages).
    static func residentBytes() -> UInt64 {
        guard let text = ProcFile.read("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: UInt8(ascii: " "))
        guard fields.count > 1 else { return 0 }
        // UInt64: a 32-bit box may have more than 2 GiB of memory (a Pi 4 runs 32-bit OSes).
        let pages = DecimalNumber.parse(fields[1], max: UInt64.max >> 16) ?? 0
        return pages &* UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
    }
}
