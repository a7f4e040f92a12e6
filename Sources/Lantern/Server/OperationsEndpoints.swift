/// The endpoints for whoever runs the box: GET /healthz, GET /metrics (Prometheus text
/// format) and `OPTIONS *`.
struct OperationsEndpoints {
    let server: ServerContext

    /// The response and whether the connection may stay open, or nil when `head` is for
    /// another path.
    func response(to head: HTTPRequestHead) -> (bytes: [UInt8], keepOpen: Bool)? {
        if head.target == [UInt8(ascii: "*")] {
            // RFC 9110 §9.3.7: what the server as a whole supports.
            var r = HTTPResponse(status: 200)
            r.header("Allow", "GET, HEAD, OPTIONS")
            r.header("Content-Length", "0")
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        let isHealth = head.path.elementsEqual("/healthz".utf8)
        guard isHealth || head.path.elementsEqual("/metrics".utf8) else { return nil }
        guard head.method == Array("GET".utf8) || head.isHead else {
            return (HTTPResponse.refusal(.methodNotAllowed(allow: "GET, HEAD")), false)
        }
        let body: [UInt8]
        let type: StaticString
        if isHealth {
            body = Array("ok\n".utf8)
            type = "text/plain; charset=utf-8"
        } else {
            let text = server.metrics.render(
                openConnections: server.registry.count, activeConnections: server.active, deflateBytes: server.deflateBudget.used)
            body = Array(text.utf8)
            type = "text/plain; version=0.0.4; charset=utf-8"
        }
        var r = HTTPResponse(status: 200)
        r.header("Content-Type", type)
        r.header("Content-Length", String(body.count))
        r.header("Cache-Control", "no-store")
        body.withUnsafeBytes { r.finish(body: head.isHead ? nil : $0) }
        return (r.bytes, head.keepAlive)
    }
}
