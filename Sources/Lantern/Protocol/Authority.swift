/// The authority of an http(s) URI or of a Host field: `host [":" port]` (RFC 3986 §3.2),
/// without userinfo, which RFC 9110 §4.2.4 forbids in http URIs.
public struct Authority: Equatable, Sendable {
    /// As sent: a bracketed IP literal, an IPv4 address or a registered name (may be empty).
    public let host: ArraySlice<UInt8>
    /// The digits after the colon: nil without one, empty for "host:".
    public let port: ArraySlice<UInt8>?

    /// Nil unless `bytes` follows RFC 3986's grammar for an authority without userinfo.
    public init?(_ bytes: ArraySlice<UInt8>) {
        var rest: ArraySlice<UInt8>
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")),
                  Authority.isIPLiteral(bytes[(bytes.startIndex + 1)..<close]) else { return nil }
            host = bytes[...close]
            rest = bytes[(close + 1)...]
        } else {
            // A reg-name or IPv4 address has no colon: the first one starts the port.
            let colon = bytes.firstIndex(of: UInt8(ascii: ":")) ?? bytes.endIndex
            host = bytes[..<colon]
            guard Authority.isRegName(host) else { return nil }
            rest = bytes[colon...]
        }
        if rest.isEmpty {
            port = nil
        } else {
            guard rest.first == UInt8(ascii: ":") else { return nil }
            rest = rest.dropFirst()
            guard rest.allSatisfy(DecimalNumber.isDigit) else { return nil }
            port = rest
        }
    }

    /// The port, or `scheme`'s default when there is none or it is empty (RFC 3986 §6.2.3).
    public func port(defaultingTo fallback: [UInt8]) -> ArraySlice<UInt8> {
        guard let port, !port.isEmpty else { return fallback[...] }
        return port
    }

    /// IPv6address or IPvFuture between the brackets (§3.2.2). IPv6 is checked by its
    /// alphabet and its colons (every form has at least two), not digit by digit: the host is
    /// only ever compared, never connected to.
    private static func isIPLiteral(_ inner: ArraySlice<UInt8>) -> Bool {
        if let v = inner.first, v == UInt8(ascii: "v") || v == UInt8(ascii: "V") {
            let body = inner.dropFirst()
            guard let dot = body.firstIndex(of: UInt8(ascii: ".")), dot > body.startIndex else { return false }
            let tail = body[(dot + 1)...]
            return body[..<dot].allSatisfy(isHexDigit) && !tail.isEmpty
                && tail.allSatisfy { isUnreserved($0) || isSubDelimiter($0) || $0 == UInt8(ascii: ":") }
        }
        // RFC 6874: a link-local address may carry its zone, `fe80::1%25eth0`.
        var address = inner
        if let percent = inner.firstIndex(of: UInt8(ascii: "%")) {
            address = inner[..<percent]
            let zone = inner[percent...]
            guard zone.starts(with: "%25".utf8), zone.count > 3, isZoneID(zone.dropFirst(3)) else { return false }
        }
        return address.filter { $0 == UInt8(ascii: ":") }.count >= 2
            && address.allSatisfy { isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
    }

    /// ZoneID = 1*( unreserved / pct-encoded ) (RFC 6874 §2).
    private static func isZoneID(_ zone: ArraySlice<UInt8>) -> Bool {
        var i = zone.startIndex
        while i < zone.endIndex {
            if zone[i] == UInt8(ascii: "%") {
                guard i + 2 < zone.endIndex, isHexDigit(zone[i + 1]), isHexDigit(zone[i + 2]) else { return false }
                i += 3
            } else {
                guard isUnreserved(zone[i]) else { return false }
                i += 1
            }
        }
        return true
    }

    /// `*( unreserved / pct-encoded / sub-delims )`, which covers IPv4 addresses too.
    private static func isRegName(_ name: ArraySlice<UInt8>) -> Bool {
        var i = name.startIndex
        while i < name.endIndex {
            let b = name[i]
            if b == UInt8(ascii: "%") {
                guard i + 2 < name.endIndex, isHexDigit(name[i + 1]), isHexDigit(name[i + 2]) else { return false }
                i += 3
                continue
            }
            guard isUnreserved(b) || isSubDelimiter(b) else { return false }
            i += 1
        }
        return true
    }

    private static func isHexDigit(_ b: UInt8) -> Bool { ASCII.hexValue(b) != nil }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        DecimalNumber.isDigit(b) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
            || b == UInt8(ascii: "-") || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "~")
    }

    private static func isSubDelimiter(_ b: UInt8) -> Bool { "!$&'()*+,;=".utf8.contains(b) }
}
