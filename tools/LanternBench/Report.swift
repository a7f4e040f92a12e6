import Glibc

/// Writes `text` and a newline straight to `fd` (1 or 2): no stdio buffering, so a script
/// waiting for a line sees it at once.
func writeLine(_ text: String, to fd: Int32 = 1) {
    var bytes = Array(text.utf8)
    if bytes.last != 10 { bytes.append(10) }
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            offset += n
        }
    }
}

/// `value` with `digits` decimals.
func format(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if digits == 0 { return String(Int(rounded)) }
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}

/// The summary line for people and the `RESULT` line for scripts (keys as in wsbench's loadgen).
struct Report {
    let options: BenchOptions
    let stats: WorkerStats
    let seconds: Double
    let connectSeconds: Double
    let ownCPUPercent: Double
    let serverCPUPercent: Double?
    let rssBeforeKB: Int
    let rssAfterKB: Int

    func print() {
        if !stats.lastError.isEmpty { writeLine("lantern-bench: last error: \(stats.lastError)\n", to: 2) }
        let h = stats.histogram
        let server = serverCPUPercent.map { " srv_cpu_pct=\(format($0, 0))" } ?? ""
        let type = options.binary ? "binary" : "text"
        switch options.mode {
        case .echo:
            let rate = Double(stats.messages) / seconds
            let mb = Double(stats.bytes) / seconds / 1e6
            writeLine("echo \(options.connections) conns x \(options.size) B \(type)\(stats.deflateConnections > 0 ? " deflate" : ""): "
                + "\(format(rate, 0)) msgs/s, \(format(mb, 2)) MB/s, latency p50 \(format(h.percentile(0.5), 1)) us, "
                + "p99 \(format(h.percentile(0.99), 1)) us, max \(format(Double(h.max) / 1000, 1)) us, errors \(stats.errors)")
            writeLine("RESULT mode=echo conns=\(options.connections) size=\(options.size) type=\(type) pmd=\(stats.deflateConnections > 0 ? 1 : 0) "
                + "established=\(stats.established) dur_s=\(format(seconds, 2)) msgs=\(stats.messages) msgs_per_s=\(format(rate, 0)) "
                + "mb_per_s=\(format(mb, 2)) p50_us=\(format(h.percentile(0.5), 1)) p90_us=\(format(h.percentile(0.9), 1)) "
                + "p99_us=\(format(h.percentile(0.99), 1)) max_us=\(format(Double(h.max) / 1000, 1)) "
                + "rx_compressed=\(stats.compressedReplies) errors=\(stats.errors) mismatches=\(stats.mismatches) "
                + "conn_failed=\(stats.connectFailures) peer_closed=\(stats.peerClosed) proto_err=\(stats.protocolErrors) "
                + "stalled=\(stats.stalled) lg_cpu_pct=\(format(ownCPUPercent, 0))\(server) threads=\(options.threads)")
        case .hold:
            let perConnection = stats.established > 0 ? Double(rssAfterKB - rssBeforeKB) / Double(stats.established) : 0
            let memory = options.serverPID > 0
                ? ": server RSS \(rssBeforeKB) KB idle, \(rssAfterKB) KB held, \(format(perConnection, 1)) KB per connection" : ""
            writeLine("hold \(stats.established)/\(options.connections) connections in \(format(connectSeconds, 2)) s\(memory), errors \(stats.errors)")
            writeLine("RESULT mode=hold conns=\(options.connections) established=\(stats.established) alive=\(stats.alive) "
                + "failed=\(stats.connectFailures + stats.protocolErrors) peer_closed=\(stats.peerClosed) "
                + "connect_s=\(format(connectSeconds, 3)) hold_s=\(format(seconds, 1)) pmd=\(stats.deflateConnections > 0 ? 1 : 0) "
                + "errors=\(stats.errors) rss_idle_kb=\(rssBeforeKB) rss_hold_kb=\(rssAfterKB) kb_per_conn=\(format(perConnection, 1))")
        case .dump, .zlib:
            break
        case .churn:
            let rate = Double(stats.cycles) / seconds
            let errors = stats.cycleErrors + stats.unexpected
            writeLine("churn \(options.connections) slots: \(format(rate, 0)) connections/s, cycle p50 \(format(h.percentile(0.5), 1)) us, "
                + "p99 \(format(h.percentile(0.99), 1)) us, errors \(errors)")
            writeLine("RESULT mode=churn conns=\(options.connections) size=\(options.size) dur_s=\(format(seconds, 2)) cycles=\(stats.cycles) "
                + "conns_per_s=\(format(rate, 0)) p50_us=\(format(h.percentile(0.5), 1)) p99_us=\(format(h.percentile(0.99), 1)) "
                + "max_us=\(format(Double(h.max) / 1000, 1)) errors=\(errors) mismatches=\(stats.mismatches) "
                + "lg_cpu_pct=\(format(ownCPUPercent, 0))\(server)")
        }
    }
}
