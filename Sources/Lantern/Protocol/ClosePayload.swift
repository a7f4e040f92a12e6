/// The body of a close frame (RFC 6455 §5.5.1): empty, or a 2-byte code and a UTF-8 reason.
public enum ClosePayload {
    /// Validates a received close payload and returns its code (nil when empty).
    public static func code(of payload: [UInt8]) throws(ProtocolError) -> CloseCode? {
        if payload.isEmpty { return nil }
        if payload.count == 1 { throw .closePayloadTooShort }
        let code = CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
        guard code.isValidOnWire else { throw .invalidCloseCode(code.rawValue) }
        let valid = payload.withUnsafeBytes { UTF8Validator.isValid(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        if !valid { throw .invalidUTF8 }
        return code
    }

    /// Encodes a close payload; the reason is cut to 123 bytes (§5.5: control payloads ≤ 125)
    /// at a character boundary.
    public static func encode(code: CloseCode?, reason: StaticString = "") -> [UInt8] {
        guard let code else { return [] }
        var out: [UInt8] = [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)]
        reason.withUTF8Buffer { text in
            var n = min(text.count, 123)
            while n > 0 && n < text.count && text[n] & 0xC0 == 0x80 { n -= 1 }
            out.append(contentsOf: text[..<n])
        }
        return out
    }
}
