/// What `OriginPolicy` makes of a handshake's Origin.
public enum OriginVerdict: Equatable, Sendable {
    case allowed
    /// Another site, not on the allow-list.
    case foreign
    /// The page's own host, but under a name public DNS hands out (see `isLocalName`).
    case publicName
}

/// Which browser origins may open a WebSocket (defence against cross-site WebSocket hijacking:
/// browsers send `Origin` on every WebSocket handshake, RFC 6455 §10.2).
/// Requests without `Origin` (non-browser clients) are allowed, and same-host origins under a
/// local name; the allow-list widens it.
public struct OriginPolicy: Sendable {
    /// Extra origins allowed, lower-cased, e.g. `http://pi.local:8080`; `*` allows any.
    public var allowed: [[UInt8]] = []

    public init(allowed: [[UInt8]] = []) { self.allowed = allowed.map { $0.map(ASCII.lowercased) } }

    public func permits(origin: [UInt8]?, host: [UInt8]?) -> Bool { verdict(origin: origin, host: host) == .allowed }

    public func verdict(origin: [UInt8]?, host: [UInt8]?) -> OriginVerdict {
        guard let origin else { return .allowed }
        let normalized = ASCII.trimmed(origin).map(ASCII.lowercased)
        for entry in allowed where entry == Array("*".utf8) || entry == normalized { return .allowed }
        guard let host, let authority = Authority(host.map(ASCII.lowercased)[...]),
              OriginPolicy.sameHost(origin: normalized, host: authority) else { return .foreign }
        return OriginPolicy.isLocalName(Array(authority.host)) ? .allowed : .publicName
    }

    /// DNS rebinding: a page served from a name its author controls in public DNS, with that
    /// name then re-pointed at this box, is "same host" with itself. So the same-host rule holds
    /// only for names public DNS cannot hand out: IP literals, single-label names (`box`),
    /// `localhost`, and the private-use suffixes `.local` (mDNS), `.localhost` (RFC 6761),
    /// `.home.arpa` (RFC 8375), `.internal`, and the customary `.lan`, `.home`, `.localdomain`.
    /// Any other name has to be named with `--allow-origin`.
    static func isLocalName(_ name: [UInt8]) -> Bool {
        var name = name[...]
        if name.last == UInt8(ascii: ".") { name = name.dropLast() }
        guard !name.isEmpty else { return false }
        if name.first == UInt8(ascii: "[") { return true }  // IPv6 literal
        let labels = name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count == 1 { return true }
        if labels.count == 4 && labels.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(DecimalNumber.isDigit) }) {
            return true  // IPv4 literal
        }
        for suffix in [".local", ".localhost", ".home.arpa", ".internal", ".lan", ".home", ".localdomain"] {
            if name.count > suffix.utf8.count && name.suffix(suffix.utf8.count).elementsEqual(suffix.utf8) { return true }
        }
        return false
    }

    /// `scheme://name[:port]` against a Host header `name[:port]`; a missing port is the
    /// scheme's default on both sides (the Host of a request proxied over TLS often has none).
    static func sameHost(origin: [UInt8], host: Authority) -> Bool {
        let separator = Array("://".utf8)
        guard let at = origin.indices.first(where: { origin[$0...].starts(with: separator) }) else { return false }
        let defaultPort: [UInt8]
        switch String(decoding: origin[..<at], as: UTF8.self) {
        case "http": defaultPort = Array("80".utf8)
        case "https": defaultPort = Array("443".utf8)
        default: return false
        }
        guard let originAuthority = Authority(origin[(at + 3)...]), !originAuthority.host.isEmpty,
              originAuthority.host.elementsEqual(host.host) else { return false }
        return originAuthority.port(defaultingTo: defaultPort).elementsEqual(host.port(defaultingTo: defaultPort))
    }
}
