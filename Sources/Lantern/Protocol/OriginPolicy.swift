/// Which browser origins may open a WebSocket (defence against cross-site WebSocket hijacking:
/// browsers send `Origin` on every WebSocket handshake, RFC 6455 §10.2).
/// Requests without `Origin` (non-browser clients) and same-host origins are always allowed.
public struct OriginPolicy: Sendable {
    /// Extra origins allowed, lower-cased, e.g. `http://pi.local:8080`; `*` allows any.
    public var allowed: [[UInt8]] = []

    public init(allowed: [[UInt8]] = []) { self.allowed = allowed.map { $0.map(ASCII.lowercased) } }

    public func permits(origin: [UInt8]?, host: [UInt8]?) -> Bool {
        guard let origin else { return true }
        let normalized = ASCII.trimmed(origin).map(ASCII.lowercased)
        for entry in allowed where entry == Array("*".utf8) || entry == normalized { return true }
        guard let host else { return false }
        return OriginPolicy.sameHost(origin: normalized, host: host.map(ASCII.lowercased))
    }

    /// `scheme://name[:port]` against a Host header `name[:port]`; a missing port is the
    /// scheme's default on both sides (the Host of a request proxied over TLS often has none).
    static func sameHost(origin: [UInt8], host: [UInt8]) -> Bool {
        let separator = Array("://".utf8)
        guard let at = origin.indices.first(where: { origin[$0...].starts(with: separator) }) else { return false }
        let scheme = Array(origin[..<at])
        let defaultPort: [UInt8]
        switch String(decoding: scheme, as: UTF8.self) {
        case "http": defaultPort = Array("80".utf8)
        case "https": defaultPort = Array("443".utf8)
        default: return false
        }
        let (originName, originPort) = split(Array(origin[(at + 3)...]))
        let (hostName, hostPort) = split(host)
        guard !originName.isEmpty, originName == hostName else { return false }
        return (originPort ?? defaultPort) == (hostPort ?? defaultPort)
    }

    /// "name:port" -> (name, port); handles "[v6]:port".
    private static func split(_ authority: [UInt8]) -> ([UInt8], [UInt8]?) {
        if authority.first == UInt8(ascii: "["), let close = authority.firstIndex(of: UInt8(ascii: "]")) {
            let name = Array(authority[...close])
            let rest = authority[(close + 1)...]
            return rest.first == UInt8(ascii: ":") ? (name, Array(rest.dropFirst())) : (name, nil)
        }
        if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            return (Array(authority[..<colon]), Array(authority[(colon + 1)...]))
        }
        return (authority, nil)
    }
}
