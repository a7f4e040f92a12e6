/// A parsed HTTP/1.x request head (RFC 9112 §2–5). Names are stored lower-cased, values trimmed.
public struct HTTPRequestHead: Sendable {
    public var method: [UInt8]
    public var target: [UInt8]
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 and any later 1.x.
    public var minorVersion: Int
    public var headers: [(name: [UInt8], value: [UInt8])]
    /// The authority of an absolute-form target (RFC 9112 §3.2.2), which replaces Host.
    public var absoluteAuthority: [UInt8]? = nil

    /// The host the request is for: an absolute-form target's authority, which a server must use
    /// instead of Host (RFC 9112 §3.2.2), else the Host field (nil if absent or repeated).
    public var authority: [UInt8]? {
        if let absoluteAuthority { return absoluteAuthority }
        let hosts = values("host")
        return hosts.count == 1 ? hosts[0] : nil
    }

    /// Parses a head at the start of `bytes`. Returns nil until the blank line arrives, then the
    /// head and its length. Throws `.headerTooLarge` once `maxBytes` pass without one.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxBytes: Int) throws(HTTPError) -> (HTTPRequestHead, Int)? {
        // RFC 9112 §2.2: empty lines before the request line (a client's stray CRLF after a
        // previous body) are ignored.
        var skipped = 0
        while skipped + 1 < bytes.count && bytes[skipped] == 0x0D && bytes[skipped + 1] == 0x0A { skipped += 2 }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[skipped...])
        guard let end = try findHeadEnd(rest, limit: maxBytes - skipped) else {
            if bytes.count >= maxBytes { throw .headerTooLarge }
            return nil
        }
        var lines = LineCursor(bytes: rest, end: end)
        guard let requestLine = lines.next() else { throw .badRequest("empty request") }
        var head = try parseRequestLine(requestLine)
        while let line = lines.next() {
            if line.isEmpty { break }
            head.headers.append(try parseHeaderLine(line))
        }
        return (head, skipped + end)
    }

    /// Index just past the CRLFCRLF that ends the head, looked for only within `limit` bytes.
    /// A line feed without its carriage return is refused at once (RFC 9112 §2.2 lets a server
    /// reject it): waiting for a CRLFCRLF that such a client never sends would only time out.
    private static func findHeadEnd(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(HTTPError) -> Int? {
        let n = min(bytes.count, limit)
        var i = 0
        while i < n {
            if bytes[i] == 0x0A {
                guard i > 0 && bytes[i - 1] == 0x0D else { throw .badRequest("bare LF in request head") }
                if i >= 3 && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D { return i + 1 }
            }
            i += 1
        }
        return nil
    }

    private static func parseRequestLine(_ line: UnsafeRawBufferPointer) throws(HTTPError) -> HTTPRequestHead {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { throw .badRequest("malformed request line") }
        guard parts[0].allSatisfy(ASCII.isTokenByte) else { throw .badRequest("malformed method") }
        var target = Array(parts[1])
        guard target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { throw .badRequest("malformed request target") }
        // Origin-form (RFC 9112 §3.2.1), or absolute-form, which a server MUST accept (§3.2.2):
        // kept as its path and query, its authority standing in for Host.
        var authority: [UInt8]?
        if target == [UInt8(ascii: "*")] {
            // Asterisk-form: the server as a whole, for OPTIONS only (§3.2.4).
            guard parts[0].elementsEqual("OPTIONS".utf8) else { throw .badRequest("malformed request target") }
        } else if target[0] != UInt8(ascii: "/") {
            guard let (host, path) = splitAbsoluteForm(target) else { throw .badRequest("malformed request target") }
            authority = host
            target = path
        }
        // RFC 9112 §2.3: "HTTP/" DIGIT "." DIGIT. A later 1.x is served as 1.1 (RFC 9110 §2.5);
        // another major version is not ours to speak.
        let version = Array(parts[2])
        guard version.count == 8, version[0..<5].elementsEqual("HTTP/".utf8), DecimalNumber.isDigit(version[5]),
              version[6] == UInt8(ascii: "."), DecimalNumber.isDigit(version[7]) else {
            throw .badRequest("malformed HTTP version")
        }
        guard version[5] == UInt8(ascii: "1") else { throw .httpVersionNotSupported }
        let minor = min(Int(version[7] - UInt8(ascii: "0")), 1)
        return HTTPRequestHead(method: Array(parts[0]), target: target, minorVersion: minor, headers: [], absoluteAuthority: authority)
    }

    /// `http://authority/path?query` (scheme http or https, any case) as authority and
    /// origin-form target ("/" when the path is empty); nil for anything else.
    private static func splitAbsoluteForm(_ target: [UInt8]) -> ([UInt8], [UInt8])? {
        let lowered = target.prefix(8).map(ASCII.lowercased)
        let schemeLength: Int
        if lowered.starts(with: "http://".utf8) { schemeLength = 7 }
        else if lowered.starts(with: "https://".utf8) { schemeLength = 8 }
        else { return nil }
        let rest = target[schemeLength...]
        let end = rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? rest.endIndex
        let authority = Array(rest[..<end])
        // RFC 9110 §4.2.1: an http URI with an empty host is invalid.
        guard let parsed = Authority(authority[...]), !parsed.host.isEmpty else { return nil }
        var path = Array(rest[end...])
        if path.first != UInt8(ascii: "/") { path.insert(UInt8(ascii: "/"), at: 0) }
        return (authority, path)
    }

    private static func parseHeaderLine(_ line: UnsafeRawBufferPointer) throws(HTTPError) -> (name: [UInt8], value: [UInt8]) {
        // RFC 9112 §5.2: obsolete line folding is rejected; §5.1: no whitespace before the colon.
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { throw .badRequest("malformed header line") }
        let name = line[..<colon]
        guard name.allSatisfy(ASCII.isTokenByte) else { throw .badRequest("malformed header name") }
        var value = line[(colon + 1)...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .badRequest("malformed header value") }
        return (name.map(ASCII.lowercased), Array(value))
    }

    /// Values of every header line with this (lower-case) name, in order.
    public func values(_ name: StaticString) -> [[UInt8]] {
        let key = name.utf8Bytes
        return headers.filter { $0.name.elementsEqual(key) }.map { $0.value }
    }

    /// The single value of a header, nil if absent; `.badRequest` if it appears more than once.
    public func single(_ name: StaticString) throws(HTTPError) -> [UInt8]? {
        let all = values(name)
        if all.count > 1 { throw .badRequest("duplicate header") }
        return all.first
    }

    /// Whether a comma-separated header (any of its lines) lists `token`, case-insensitively.
    public func hasToken(_ name: StaticString, _ token: StaticString) -> Bool {
        let want = token.utf8Bytes
        for value in values(name) {
            for item in value.split(separator: UInt8(ascii: ",")) where ASCII.trimmed(item).lazy.map(ASCII.lowercased).elementsEqual(want) {
                return true
            }
        }
        return false
    }

    /// RFC 9112 §3.2: an HTTP/1.1 request without a Host field, any request with more than one,
    /// and a Host that is not an authority (RFC 3986 §3.2: host and port, no userinfo) are
    /// answered 400, whatever the form of the target.
    public func checkHost() throws(HTTPError) {
        let hosts = values("host")
        if hosts.count > 1 { throw .badRequest("duplicate Host") }
        guard let host = hosts.first else {
            if minorVersion >= 1 { throw .badRequest("missing Host") }
            return
        }
        guard Authority(host[...]) != nil else { throw .badRequest("invalid Host") }
    }

    /// A HEAD request: its response carries no body (RFC 9110 §9.3.2).
    public var isHead: Bool { method.elementsEqual("HEAD".utf8) }

    /// Whether the method is one HTTP defines (RFC 9110 §9, PATCH from RFC 5789); any other
    /// is answered 501 rather than 405 (§9.1). Methods are case-sensitive.
    public var hasKnownMethod: Bool {
        for known: StaticString in ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
        where known.withUTF8Buffer({ method.elementsEqual($0) }) {
            return true
        }
        return false
    }

    /// Whether the client asked to keep the connection open after this request (RFC 9112 §9.3).
    public var keepAlive: Bool {
        if hasToken("connection", "close") { return false }
        return minorVersion >= 1 || hasToken("connection", "keep-alive")
    }

    /// The target's path without the query string.
    public var path: ArraySlice<UInt8> {
        if let q = target.firstIndex(of: UInt8(ascii: "?")) { return target[..<q] }
        return target[...]
    }
}

/// Iterates CRLF-terminated lines of a head.
private struct LineCursor {
    let bytes: UnsafeRawBufferPointer
    let end: Int
    var position = 0

    mutating func next() -> UnsafeRawBufferPointer? {
        guard position < end else { return nil }
        var i = position
        while i + 1 < end && !(bytes[i] == 0x0D && bytes[i + 1] == 0x0A) { i += 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[position..<i])
        position = i + 2
        return line
    }
}

/// Byte-level ASCII helpers (no Unicode tables needed, so Embedded Swift stays small).
public enum ASCII {
    public static func lowercased(_ b: UInt8) -> UInt8 {
        b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b + 32 : b
    }

    /// tchar (RFC 9110 §5.6.2): the bytes of a token, e.g. a method, a field name, a parameter.
    public static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// The value of a hex digit (RFC 3986 HEXDIG, either case): percent escapes, IPv6 groups.
    public static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public static func trimmed<C: BidirectionalCollection>(_ bytes: C) -> C.SubSequence where C.Element == UInt8 {
        var s = bytes[...]
        while let f = s.first, f == 0x20 || f == 0x09 { s = s.dropFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 { s = s.dropLast() }
        return s
    }

    public static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ literal: StaticString) -> Bool where C.Element == UInt8 {
        let want = literal.utf8Bytes
        return bytes.lazy.map(lowercased).elementsEqual(want)
    }
}
