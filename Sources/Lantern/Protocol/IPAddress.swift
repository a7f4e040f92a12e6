/// An IP address as 16 bytes: IPv6 as is, IPv4 as its IPv4-mapped form (`::ffff:a.b.c.d`,
/// RFC 4291 §2.5.5.2), which is also how a dual-stack socket reports IPv4 peers. Parsed and
/// printed without the C library, so proxy headers and `--trust-proxy` are checked the same way
/// on every CPU.
public struct IPAddress: Equatable, Hashable, Sendable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16)
        self.bytes = bytes
    }

    /// `a.b.c.d` as an IPv4-mapped address.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.init(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, a, b, c, d])
    }

    public var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF }

    /// A dotted quad (RFC 3986 §3.2.2's IPv4address: no leading zeros, each part ≤ 255) or an
    /// IPv6 address in any RFC 4291 §2.2 form (`::`, an embedded dotted quad); no zone, no brackets.
    public init?<C: Collection>(_ text: C) where C.Element == UInt8 {
        let text = Array(text)
        if let v4 = IPAddress.parseIPv4(text[...]) {
            self.init(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + v4)
        } else if let v6 = IPAddress.parseIPv6(text[...]) {
            self.init(bytes: v6)
        } else {
            return nil
        }
    }

    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = text.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard part.count <= 3, DecimalNumber.isCanonical(part), let value = DecimalNumber.parse(part, max: 255) else { return nil }
            out.append(UInt8(value))
        }
        return out
    }

    private static func parseIPv6(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        // Split around "::" (at most one), then each side into groups.
        var head = text, tail: ArraySlice<UInt8>? = nil
        if let gap = (text.startIndex..<(text.endIndex - 1)).first(where: { text[$0] == 0x3A && text[$0 + 1] == 0x3A }) {
            head = text[..<gap]
            tail = text[(gap + 2)...]
            if tail!.starts(with: [0x3A]) || head.last == 0x3A { return nil }
        }
        guard var front = groups(head, allowIPv4: tail == nil) else { return nil }
        var back: [UInt8] = []
        if let tail {
            guard let parsed = groups(tail, allowIPv4: true) else { return nil }
            back = parsed
            guard front.count + back.count <= 14 else { return nil }
            front += [UInt8](repeating: 0, count: 16 - front.count - back.count)
        } else if front.count != 16 {
            return nil
        }
        return front + back
    }

    /// Colon-separated 16-bit hex groups, the last one possibly a dotted quad; as bytes.
    private static func groups(_ text: ArraySlice<UInt8>, allowIPv4: Bool) -> [UInt8]? {
        if text.isEmpty { return [] }
        let parts = text.split(separator: 0x3A, omittingEmptySubsequences: false)
        var out: [UInt8] = []
        for (i, part) in parts.enumerated() {
            if i == parts.count - 1, allowIPv4, part.contains(UInt8(ascii: ".")) {
                guard let v4 = parseIPv4(part) else { return nil }
                out += v4
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value = 0
            for byte in part {
                guard let digit = ASCII.hexValue(byte) else { return nil }
                value = value << 4 | Int(digit)
            }
            out += [UInt8(value >> 8), UInt8(value & 0xFF)]
        }
        return out.count <= 16 ? out : nil
    }

    /// Dotted quad for IPv4 (mapped) addresses, else RFC 5952 text: lower-case hex, no leading
    /// zeros, the longest run of two or more zero groups as `::`.
    public var text: String {
        var out: [UInt8] = []
        if isIPv4 {
            for i in 12..<16 {
                if i > 12 { out.append(UInt8(ascii: ".")) }
                Self.appendNumber(Int(bytes[i]), base: 10, to: &out)
            }
            return String(decoding: out, as: UTF8.self)
        }
        let groups = (0..<8).map { Int(bytes[2 * $0]) << 8 | Int(bytes[2 * $0 + 1]) }
        var best = (start: 8, length: 1), run = (start: 8, length: 0)
        for (i, g) in groups.enumerated() {
            run = g != 0 ? (8, 0) : run.length == 0 ? (i, 1) : (run.start, run.length + 1)
            if run.length > best.length { best = run }
        }
        var i = 0
        while i < 8 {
            if i == best.start {
                out += [UInt8(ascii: ":"), UInt8(ascii: ":")]
                i += best.length
                continue
            }
            if i > 0 && out.last != UInt8(ascii: ":") { out.append(UInt8(ascii: ":")) }
            Self.appendNumber(groups[i], base: 16, to: &out)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Digits of `value` without leading zeros.
    private static func appendNumber(_ value: Int, base: Int, to out: inout [UInt8]) {
        if value >= base { appendNumber(value / base, base: base, to: &out) }
        let digit = value % base
        out.append(digit < 10 ? UInt8(ascii: "0") + UInt8(digit) : UInt8(ascii: "a") + UInt8(digit - 10))
    }
}

/// An address block, `ADDR/BITS` (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6), or one address.
public struct AddressRange: Equatable, Sendable {
    public let base: IPAddress
    /// Leading bits that must match, out of 128 (an IPv4 prefix counts from bit 96).
    public let prefixBits: Int

    /// `10.0.0.0/8`, `fd00::/8`, `192.168.1.5` (a /32), `::1` (a /128).
    public init?<C: Collection>(_ text: C) where C.Element == UInt8 {
        let text = Array(text)
        let slash = text.firstIndex(of: UInt8(ascii: "/"))
        guard let base = IPAddress(text[..<(slash ?? text.endIndex)]) else { return nil }
        let width = base.isIPv4 ? 32 : 128
        var bits = width
        if let slash {
            guard let prefix = DecimalNumber.parseInt(text[(slash + 1)...], in: 0...width) else { return nil }
            bits = prefix
        }
        self.base = base
        prefixBits = bits + (128 - width)
    }

    public func contains(_ address: IPAddress) -> Bool {
        var left = prefixBits
        for i in 0..<16 where left > 0 {
            let mask: UInt8 = left >= 8 ? 0xFF : ~(0xFF >> UInt8(left))
            if address.bytes[i] & mask != base.bytes[i] & mask { return false }
            left -= 8
        }
        return true
    }
}
