/// Serves the compiled-in files of Web/. Knows nothing of WebSockets.
///
/// Only paths in the compiled table can ever be answered with content: there is no file system
/// behind this type. Paths are still checked strictly (RFC 3986 §3.3 dot-segments, encoded
/// slashes, backslashes, control bytes → 400) so that a request never means something else.
struct StaticResponder: Sendable {
    /// The files this responder can serve; nothing else is reachable.
    let store: AssetStore

    /// Sent with the HTML page (and SVG, which a browser can open as a document). The page loads
    /// its script and style from files, opens one WebSocket to its own host and nothing else.
    static let contentSecurityPolicy: StaticString =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// Serves `store`, by default the table compiled from Web/ (decoded once per process).
    init(store: AssetStore = .compiled) { self.store = store }

    /// Serves `assets` (tests and tools that bring their own table).
    init(assets: [Asset]) { self.store = AssetStore(assets) }

    /// The response to a plain HTTP request, and whether the connection may stay open after it.
    func respond(to head: HTTPRequestHead) -> (bytes: [UInt8], keepOpen: Bool) {
        let isHead = head.isHead
        let isGet = head.method == Array("GET".utf8)
        // 1. The path as the table spells it; anything ambiguous is refused outright.
        guard let path = RequestPath.decode(head.path) else {
            return (HTTPResponse.refusal(.badRequest("bad request path"), isHead: isHead), false)
        }
        if path.elementsEqual("/".utf8) {
            guard isGet || isHead else { return methodNotAllowed() }
            var r = HTTPResponse(status: 302)
            // Relative (RFC 9110 §10.2.2), so it also points right under a proxy's path prefix.
            r.header("Location", "client")
            r.header("Content-Length", "0")
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        // 2. Lookup, then method: an unknown path is 404 whatever the method.
        guard let entry = lookup(path) else {
            return (HTTPResponse.refusal(.notFound, isHead: isHead), head.keepAlive)
        }
        guard isGet || isHead else { return methodNotAllowed() }

        // 3. Representation: gzip when the client accepts it and one exists (RFC 9110 §12.5.3).
        let gzip = AcceptEncoding.allowsGzip(head.values("accept-encoding")) ? entry.gzip : nil
        let useGzip = gzip != nil
        let representation = gzip ?? entry.identity
        let varies = entry.gzip != nil
        let etag = representation.etag.utf8Bytes

        // 4. Validators of the chosen representation only (RFC 9110 §13.1.2).
        if matches(head.values("if-none-match"), etag: etag) {
            // RFC 9110 §15.4.5: a 304 carries the headers a 200 would have had for caching.
            var r = HTTPResponse(status: 304)
            r.header("ETag", bytes: etag)
            r.header("Cache-Control", "no-cache")
            if varies { r.header("Vary", "Accept-Encoding") }
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        var r = HTTPResponse(status: 200)
        r.header("Content-Type", entry.contentType)
        r.header("Content-Length", String(representation.bytes.count))
        if useGzip { r.header("Content-Encoding", "gzip") }
        if varies { r.header("Vary", "Accept-Encoding") }
        r.header("ETag", bytes: etag)
        r.header("Cache-Control", "no-cache")
        r.header("X-Content-Type-Options", "nosniff")
        if Self.isDocument(entry.contentType) {
            r.header("Content-Security-Policy", Self.contentSecurityPolicy)
            r.header("Referrer-Policy", "no-referrer")
        }
        representation.bytes.withBytes { r.finish(body: isHead ? nil : $0) }
        return (r.bytes, head.keepAlive)
    }

    /// `/client` is the page's public address; every file is also served at its own path.
    private func lookup(_ path: [UInt8]) -> AssetStore.Entry? {
        if path.elementsEqual("/client".utf8) { return store.entry(for: "/client.html".utf8) }
        return store.entry(for: path)
    }

    /// Types a browser renders as a document with scripts (they get the CSP).
    private static func isDocument(_ contentType: StaticString) -> Bool {
        contentType.withUTF8Buffer { $0.starts(with: "text/html".utf8) || $0.starts(with: "image/svg+xml".utf8) }
    }

    /// If-None-Match uses weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored; `*` matches.
    private func matches(_ values: [[UInt8]], etag: [UInt8]) -> Bool {
        for value in values {
            for item in value.split(separator: UInt8(ascii: ",")) {
                var tag = ASCII.trimmed(item)
                if tag.elementsEqual("*".utf8) { return true }
                if tag.starts(with: "W/".utf8) { tag = tag.dropFirst(2) }
                if tag.elementsEqual(etag) { return true }
            }
        }
        return false
    }

    private func methodNotAllowed() -> (bytes: [UInt8], keepOpen: Bool) {
        (HTTPResponse.refusal(.methodNotAllowed(allow: "GET, HEAD")), false)
    }
}

/// Request-target paths, percent-decoded and checked (RFC 3986 §2.1, §3.3).
enum RequestPath {
    /// The decoded path, or nil when it is malformed or could name something outside the table:
    /// a bad `%` escape, an encoded `/` or `\`, a literal `\`, a control byte (NUL included),
    /// or a `.` / `..` segment, literal or encoded.
    static func decode<C: Collection>(_ raw: C) -> [UInt8]? where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var it = raw.makeIterator()
        while let byte = it.next() {
            var value = byte
            if byte == UInt8(ascii: "%") {
                guard let high = it.next().flatMap(ASCII.hexValue), let low = it.next().flatMap(ASCII.hexValue) else { return nil }
                value = high << 4 | low
                if value == UInt8(ascii: "/") { return nil }
            }
            if value == UInt8(ascii: "\\") || value < 0x20 || value == 0x7F { return nil }
            out.append(value)
        }
        guard out.first == UInt8(ascii: "/") else { return nil }
        for segment in out.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) { return nil }
        }
        return out
    }
}

/// `Accept-Encoding` (RFC 9110 §12.5.3), reduced to the one question the responder asks.
enum AcceptEncoding {
    /// Whether gzip is acceptable: listed (`gzip` or `x-gzip`) with q > 0, or, when not listed,
    /// covered by `*` with q > 0. `gzip;q=0` refuses it; an item with a malformed q is ignored.
    static func allowsGzip(_ values: [[UInt8]]) -> Bool {
        var gzip: Bool?
        var wildcard: Bool?
        for value in values {
            for item in value.split(separator: UInt8(ascii: ",")) {
                let parts = item.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
                let coding = ASCII.trimmed(parts[0])
                var quality = 1000
                for parameter in parts.dropFirst() {
                    let p = ASCII.trimmed(parameter)
                    guard p.count >= 2, ASCII.lowercased(p[p.startIndex]) == UInt8(ascii: "q"),
                          p[p.index(after: p.startIndex)] == UInt8(ascii: "=") else { continue }
                    quality = qValue(p.dropFirst(2)) ?? -1
                }
                if quality < 0 { continue }
                if ASCII.equalsIgnoringCase(coding, "gzip") || ASCII.equalsIgnoringCase(coding, "x-gzip") {
                    gzip = (gzip ?? false) || quality > 0
                } else if coding.elementsEqual("*".utf8) {
                    wildcard = (wildcard ?? false) || quality > 0
                }
            }
        }
        return gzip ?? wildcard ?? false
    }

    /// A qvalue in thousandths (`0`, `0.5`, `1.000`), or nil when malformed (RFC 9110 §12.4.2).
    static func qValue<C: Collection>(_ text: C) -> Int? where C.Element == UInt8 {
        var it = text.makeIterator()
        guard let first = it.next(), first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var value = Int(first - UInt8(ascii: "0")) * 1000
        guard let dot = it.next() else { return value }
        guard dot == UInt8(ascii: ".") else { return nil }
        var scale = 100, digits = 0
        while let digit = it.next() {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9"), digits < 3 else { return nil }
            value += Int(digit - UInt8(ascii: "0")) * scale
            scale /= 10
            digits += 1
        }
        return value <= 1000 ? value : nil
    }
}
