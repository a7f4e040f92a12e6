/// The fixed part of a WebSocket frame (RFC 6455 §5.2): flags, opcode, mask key and length.
public struct FrameHeader: Equatable, Sendable {
    public var fin: Bool
    /// RSV1–RSV3 as the top three bits of the first byte (0x40, 0x20, 0x10).
    public var reservedBits: UInt8
    public var opcode: Opcode
    /// The masking key as it appears on the wire (first key byte in the lowest 8 bits), if masked.
    public var maskKey: UInt32?
    public var payloadLength: UInt64

    public static let rsv1: UInt8 = 0x40

    public init(fin: Bool, reservedBits: UInt8 = 0, opcode: Opcode, maskKey: UInt32? = nil, payloadLength: UInt64) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskKey = maskKey
        self.payloadLength = payloadLength
    }

    /// Longest encoded header: 2 + 8 (64-bit length) + 4 (mask).
    public static let maxEncodedLength = 14

    /// Parses a header at the start of `bytes`.
    /// Returns nil while more bytes are needed, or the header and its encoded length.
    /// Rules that need only the first two bytes are checked first, so a bad frame fails fast.
    public static func parse(_ bytes: UnsafeRawBufferPointer, rules: FrameRules) throws(ProtocolError) -> (FrameHeader, Int)? {
        guard bytes.count >= 2 else { return nil }
        let b0 = bytes[0], b1 = bytes[1]
        let reserved = b0 & 0x70
        // RFC 6455 §5.2: a reserved bit set without an extension defining it fails the connection.
        if reserved & ~rules.allowedReservedBits != 0 { throw .reservedBitsSet }
        guard let opcode = Opcode(rawValue: b0 & 0x0F) else { throw .unknownOpcode(b0 & 0x0F) }
        let fin = b0 & 0x80 != 0
        let masked = b1 & 0x80 != 0
        // RFC 6455 §5.1: a server MUST close the connection on an unmasked client frame.
        if rules.requireMask && !masked { throw .unmaskedClientFrame }
        let shortLength = b1 & 0x7F
        if opcode.isControl {
            // RFC 6455 §5.5: control frames have at most 125 bytes and are never fragmented.
            if !fin { throw .fragmentedControlFrame }
            if shortLength > 125 { throw .controlFrameTooLong }
        }
        var offset = 2
        var length = UInt64(shortLength)
        if shortLength == 126 {
            guard bytes.count >= 4 else { return nil }
            length = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            offset = 4
        } else if shortLength == 127 {
            guard bytes.count >= 10 else { return nil }
            length = 0
            for i in 2..<10 { length = length << 8 | UInt64(bytes[i]) }
            offset = 10
            // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
            if length >> 63 != 0 { throw .invalidLength }
        }
        var key: UInt32? = nil
        if masked {
            guard bytes.count >= offset + 4 else { return nil }
            key = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        let header = FrameHeader(fin: fin, reservedBits: reserved, opcode: opcode, maskKey: key, payloadLength: length)
        return (header, offset)
    }

    /// Encodes this header into `out` (at least `maxEncodedLength` bytes); returns the bytes written.
    /// Uses the shortest length form, as RFC 6455 §5.2 requires.
    public func encode(into out: UnsafeMutableRawBufferPointer) -> Int {
        out[0] = (fin ? 0x80 : 0) | reservedBits | opcode.rawValue
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        var offset: Int
        if payloadLength < 126 {
            out[1] = maskBit | UInt8(payloadLength)
            offset = 2
        } else if payloadLength <= 0xFFFF {
            out[1] = maskBit | 126
            out[2] = UInt8(payloadLength >> 8)
            out[3] = UInt8(payloadLength & 0xFF)
            offset = 4
        } else {
            out[1] = maskBit | 127
            for i in 0..<8 { out[2 + i] = UInt8((payloadLength >> UInt64(56 - 8 * i)) & 0xFF) }
            offset = 10
        }
        if let key = maskKey {
            out.storeBytes(of: key, toByteOffset: offset, as: UInt32.self)
            offset += 4
        }
        return offset
    }

    /// The encoded header as an array (tests and cold paths).
    public var encoded: [UInt8] {
        var out = [UInt8](repeating: 0, count: FrameHeader.maxEncodedLength)
        let n = out.withUnsafeMutableBytes { encode(into: $0) }
        out.removeLast(out.count - n)
        return out
    }
}

/// What the decoder accepts: which reserved bits an extension defines, and whether frames must be masked.
public struct FrameRules: Sendable {
    public var allowedReservedBits: UInt8
    public var requireMask: Bool
    public init(allowedReservedBits: UInt8 = 0, requireMask: Bool = true) {
        self.allowedReservedBits = allowedReservedBits
        self.requireMask = requireMask
    }
}
