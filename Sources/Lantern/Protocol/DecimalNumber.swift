/// Unsigned decimal numerals as protocols and flags write them: ASCII digits only (no sign,
/// no space, no `+`), parsed without ever overflowing, on 32-bit CPUs too. The one place that
/// turns digits into a number (Content-Length, window bits, ports, prefix lengths, flags).
public enum DecimalNumber {
    /// The value of `digits`, or nil when they are empty, hold anything but 0-9, or exceed `max`.
    public static func parse<C: Collection>(_ digits: C, max: UInt64 = .max) -> UInt64? where C.Element == UInt8 {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for b in digits {
            guard isDigit(b) else { return nil }
            let digit = UInt64(b - UInt8(ascii: "0"))
            // value * 10 + digit <= max, checked without computing it.
            guard value <= (max - digit) / 10 else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    /// The same for a value that must fit an `Int` (31 bits on 32-bit ARM) and stay within `range`.
    public static func parseInt<C: Collection>(_ digits: C, in range: ClosedRange<Int>) -> Int? where C.Element == UInt8 {
        guard range.upperBound >= 0, let value = parse(digits, max: UInt64(range.upperBound)), Int(value) >= range.lowerBound else { return nil }
        return Int(value)
    }

    /// A numeral as RFC 3986 writes IPv4 parts and RFC 7692 window bits: no leading zero
    /// unless it is "0" itself.
    public static func isCanonical<C: Collection>(_ digits: C) -> Bool where C.Element == UInt8 {
        digits.count == 1 || digits.first != UInt8(ascii: "0")
    }

    public static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
