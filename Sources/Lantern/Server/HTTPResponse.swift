/// Builds HTTP/1.1 response heads as bytes.
struct HTTPResponse {
    private(set) var bytes: [UInt8] = []

    /// A success or redirect (refusals: `refusal`).
    init(status: Int) { self.init(status: status, reason: HTTPResponse.reasonPhrase(status)) }

    private init(status: Int, reason: StaticString) {
        append("HTTP/1.1 ")
        append(String(status))
        append(" ")
        append(reason)
        append("\r\n")
    }

    mutating func header(_ name: StaticString, _ value: StaticString) {
        append(name); append(": "); append(value); append("\r\n")
    }

    mutating func header(_ name: StaticString, _ value: String) {
        append(name); append(": "); append(value); append("\r\n")
    }

    mutating func header<C: Collection>(_ name: StaticString, bytes value: C) where C.Element == UInt8 {
        append(name); append(": "); bytes.append(contentsOf: value); append("\r\n")
    }

    /// Ends the head; `body` (if any) follows it in the same buffer.
    mutating func finish(body: UnsafeRawBufferPointer? = nil) {
        append("\r\n")
        if let body { bytes.append(contentsOf: body) }
    }

    /// `response` with the Connection field that tells the client what happens next (RFC 9112
    /// §9.3, §9.6): "close" when the server closes after it, "keep-alive" when an HTTP/1.0
    /// connection stays open (1.0 closes by default). A head that has one is left as it is.
    static func announcing(_ response: [UInt8], closing: Bool, minorVersion: Int) -> [UInt8] {
        guard closing || minorVersion == 0 else { return response }
        // The blank line that ends the head: the new field goes just before it.
        var end = 3
        while end < response.count && !(response[end - 3] == 0x0D && response[end - 2] == 0x0A
            && response[end - 1] == 0x0D && response[end] == 0x0A) { end += 1 }
        guard end < response.count else { return response }
        // Any line of the head that is a Connection field (each line starts after a CRLF).
        let field = Array("\r\nconnection:".utf8)
        var i = 0
        while i + field.count <= end - 1 {
            if response[i] == 0x0D && response[i..<(i + field.count)].lazy.map(ASCII.lowercased).elementsEqual(field) { return response }
            i += 1
        }
        var announced = Array(response[..<(end - 1)])
        announced.append(contentsOf: (closing ? "Connection: close\r\n" : "Connection: keep-alive\r\n").utf8)
        announced.append(contentsOf: response[(end - 1)...])
        return announced
    }

    /// The whole response to a refusal (see `HTTPError`): a line of plain text, without the
    /// body (but with the length it would have) when answering HEAD (RFC 9110 §9.3.2).
    static func refusal(_ error: HTTPError, isHead: Bool = false) -> [UInt8] {
        let message = error.message
        var r = HTTPResponse(status: error.status, reason: error.reasonPhrase)
        r.header("Content-Type", "text/plain; charset=utf-8")
        r.header("Content-Length", String(message.utf8CodeUnitCount + 1))
        if let connection = error.connectionField { r.header("Connection", connection) }
        for field in error.headerFields { r.header(field.name, field.value) }
        r.append("\r\n")
        if !isHead {
            r.append(message)
            r.append("\n")
        }
        return r.bytes
    }

    private mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }

    private static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 302: return "Found"
        case 304: return "Not Modified"
        default: return "Status"
        }
    }
}
