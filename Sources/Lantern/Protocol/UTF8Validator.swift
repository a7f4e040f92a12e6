/// Incremental UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires for text):
/// rejects overlong forms, surrogates (U+D800–DFFF) and code points above U+10FFFF,
/// and fails on the first bad byte even when a sequence is split across chunks.
public struct UTF8Validator: Sendable {
    /// Continuation bytes still expected for the current sequence.
    private var pending: UInt8 = 0
    /// Allowed range of the next continuation byte (narrowed after E0, ED, F0, F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    public init() {}

    /// True when no multi-byte sequence is left open (the message may end here).
    public var isComplete: Bool { pending == 0 }

    /// Feeds more bytes; returns false as soon as they cannot be valid UTF-8.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        guard count > 0, let base = bytes.baseAddress else { return true }
        var i = 0
        while i < count {
            if pending == 0 {
                // ASCII fast path, eight bytes at a time.
                while i + 8 <= count && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                if i >= count { break }
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                switch b {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: pending = 1; lower = 0x80; upper = 0xBF
                case 0xE0: pending = 2; lower = 0xA0; upper = 0xBF
                case 0xE1...0xEC, 0xEE...0xEF: pending = 2; lower = 0x80; upper = 0xBF
                case 0xED: pending = 2; lower = 0x80; upper = 0x9F
                case 0xF0: pending = 3; lower = 0x90; upper = 0xBF
                case 0xF1...0xF3: pending = 3; lower = 0x80; upper = 0xBF
                case 0xF4: pending = 3; lower = 0x80; upper = 0x8F
                default: return false
                }
            } else {
                let b = base.load(fromByteOffset: i, as: UInt8.self)
                i += 1
                if b < lower || b > upper { return false }
                pending -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Validates a complete byte sequence.
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var v = UTF8Validator()
        return v.consume(bytes) && v.isComplete
    }
}
