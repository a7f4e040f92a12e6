/// Who is at the other end of a request: an IP address (and port), the Unix socket's peer, or
/// a name a proxy gave instead of an address (RFC 7239 §6: `unknown` or an obfuscated `_name`).
public enum PeerAddress: Equatable, Sendable {
    case ip(IPAddress, port: UInt16?)
    case unix
    case name(String)

    /// For logs: `192.0.2.1:5000`, `[2001:db8::1]:5000`, `unix`, or the name.
    public var text: String {
        switch self {
        case .ip(let address, let port):
            let host = address.isIPv4 ? address.text : "[\(address.text)]"
            guard let port else { return host }
            return "\(host):\(port)"
        case .unix: return "unix"
        case .name(let name): return name
        }
    }

    /// The address alone (no port), the key for per-client limits.
    public var host: String {
        if case .ip(let address, _) = self { return address.text }
        return text
    }
}

/// The peers whose proxy headers are believed (`--trust-proxy`): address blocks and/or the
/// Unix socket.
public struct TrustedProxies: Sendable {
    public var ranges: [AddressRange] = []
    public var unixSocket = false

    public init() {}

    public var isEmpty: Bool { ranges.isEmpty && !unixSocket }

    /// Adds `unix`, an address or a CIDR block; false when `text` is none of these.
    public mutating func add<C: Collection>(_ text: C) -> Bool where C.Element == UInt8 {
        if text.elementsEqual("unix".utf8) {
            unixSocket = true
            return true
        }
        guard let range = AddressRange(text) else { return false }
        ranges.append(range)
        return true
    }

    public func trusts(_ peer: PeerAddress) -> Bool {
        switch peer {
        case .ip(let address, _): return ranges.contains { $0.contains(address) }
        case .unix: return unixSocket
        case .name: return false
        }
    }
}

/// The client behind a chain of trusted proxies (RFC 7239 §5.2, and the older
/// `X-Forwarded-For`): only when the connection's own peer is trusted are the headers read at
/// all; then the hops are walked from the right (the nearest) and the first one that is not a
/// trusted proxy is the client. Every hop left of it could be written by the client itself.
public enum ClientAddress {
    /// `peer` itself unless it is a trusted proxy that forwarded the request. A forwarding
    /// header that does not parse is a bad request (400): guessing would let a malformed
    /// value pass as some other client.
    public static func resolve(peer: PeerAddress, head: HTTPRequestHead, trusted: TrustedProxies) throws(HTTPError) -> PeerAddress {
        guard trusted.trusts(peer) else { return peer }
        let hops: [PeerAddress]
        // X-Forwarded-For first: it is what nginx, Caddy, HAProxy and Traefik write, while most
        // of them pass a client's own Forwarded through untouched, so preferring the standard
        // header would believe the client. Forwarded counts only when no X-Forwarded-For came.
        let xff = head.values("x-forwarded-for")
        if !xff.isEmpty {
            guard let parsed = xForwardedForHops(xff) else { throw .badRequest("malformed X-Forwarded-For") }
            hops = parsed
        } else {
            let forwarded = head.values("forwarded")
            if forwarded.isEmpty { return peer }
            guard let parsed = forwardedHops(forwarded) else { throw .badRequest("malformed Forwarded") }
            hops = parsed
        }
        for hop in hops.reversed() where !trusted.trusts(hop) { return hop }
        return hops.first ?? peer
    }

    /// The `for` of each element of `Forwarded` (fields joined in order, §4); an element
    /// without `for` is an unknown hop.
    static func forwardedHops(_ values: [[UInt8]]) -> [PeerAddress]? {
        var hops: [PeerAddress] = []
        for value in values {
            guard let elements = splitOutsideQuotes(value[...], at: UInt8(ascii: ",")) else { return nil }
            for element in elements {
                var node: PeerAddress = .name("unknown")
                guard let pairs = splitOutsideQuotes(element, at: UInt8(ascii: ";")) else { return nil }
                for pair in pairs {
                    let pair = ASCII.trimmed(pair)
                    guard let eq = pair.firstIndex(of: UInt8(ascii: "=")) else { return nil }
                    guard ASCII.equalsIgnoringCase(pair[..<eq], "for") else { continue }
                    guard let text = unquoted(pair[(eq + 1)...]), let parsed = forwardedNode(text) else { return nil }
                    node = parsed
                }
                hops.append(node)
            }
        }
        return hops.isEmpty ? nil : hops
    }

    /// §6: `IPv4 [":" port]`, `"[" IPv6 "]" [":" port]`, `unknown` or `_obfuscated`.
    static func forwardedNode(_ text: ArraySlice<UInt8>) -> PeerAddress? {
        if text.first == UInt8(ascii: "[") {
            guard let close = text.firstIndex(of: UInt8(ascii: "]")), let address = IPAddress(text[(text.startIndex + 1)..<close]),
                  !address.isIPv4 || text[(text.startIndex + 1)..<close].contains(UInt8(ascii: ":")) else { return nil }
            guard let port = port(text[(close + 1)...]) else { return nil }
            return .ip(address, port: port.value)
        }
        let colon = text.firstIndex(of: UInt8(ascii: ":")) ?? text.endIndex
        let name = text[..<colon]
        guard let port = port(text[colon...]) else { return nil }
        if name.elementsEqual("unknown".utf8) || name.first == UInt8(ascii: "_") && name.count > 1 && name.dropFirst().allSatisfy(isObfuscatedByte) {
            return .name(String(decoding: name, as: UTF8.self))
        }
        guard let address = IPAddress(name), address.isIPv4, !name.contains(UInt8(ascii: ":")) else { return nil }
        return .ip(address, port: port.value)
    }

    /// `a.b.c.d`, `a.b.c.d:port`, a bare IPv6 address, `[IPv6]` or `[IPv6]:port`, comma separated.
    static func xForwardedForHops(_ values: [[UInt8]]) -> [PeerAddress]? {
        var hops: [PeerAddress] = []
        for value in values {
            for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let item = ASCII.trimmed(item)
                if let address = IPAddress(item) {
                    hops.append(.ip(address, port: nil))
                } else if let node = forwardedNode(item), case .ip = node {
                    hops.append(node)
                } else {
                    return nil
                }
            }
        }
        return hops.isEmpty ? nil : hops
    }

    /// A node's port part: absent, a number, or obfuscated (§6.3), which has no number.
    private struct PortField { let value: UInt16? }

    /// `""` (no port), or `:` and 1–5 digits up to 65535, or `:_obfuscated`; nil when malformed.
    private static func port(_ text: ArraySlice<UInt8>) -> PortField? {
        if text.isEmpty { return PortField(value: nil) }
        guard text.first == UInt8(ascii: ":") else { return nil }
        let digits = text.dropFirst()
        if digits.first == UInt8(ascii: "_") && digits.count > 1 && digits.dropFirst().allSatisfy(isObfuscatedByte) {
            return PortField(value: nil)
        }
        guard digits.count <= 5, let value = DecimalNumber.parse(digits, max: 65535) else { return nil }
        return PortField(value: UInt16(value))
    }

    private static func isObfuscatedByte(_ b: UInt8) -> Bool {
        DecimalNumber.isDigit(b) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    /// A token, or a quoted-string with its quotes and backslash escapes removed (RFC 9110 §5.6.4).
    private static func unquoted(_ value: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let value = ASCII.trimmed(value)
        guard value.first == UInt8(ascii: "\"") else {
            return !value.isEmpty && value.allSatisfy(ASCII.isTokenByte) ? value : nil
        }
        guard value.count >= 2, value.last == UInt8(ascii: "\"") else { return nil }
        var out: [UInt8] = []
        var escaped = false
        for b in value.dropFirst().dropLast() {
            if escaped { out.append(b); escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else { out.append(b) }
        }
        return escaped ? nil : out[...]
    }

    /// Splits at `separator` outside quoted strings; nil when a quote is left open.
    private static func splitOutsideQuotes(_ bytes: ArraySlice<UInt8>, at separator: UInt8) -> [ArraySlice<UInt8>]? {
        var parts: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var quoted = false, escaped = false
        for i in bytes.indices {
            let b = bytes[i]
            if escaped { escaped = false; continue }
            if quoted && b == UInt8(ascii: "\\") { escaped = true; continue }
            if b == UInt8(ascii: "\"") { quoted.toggle(); continue }
            if b == separator && !quoted {
                parts.append(bytes[start..<i])
                start = i + 1
            }
        }
        guard !quoted else { return nil }
        parts.append(bytes[start...])
        return parts
    }
}
