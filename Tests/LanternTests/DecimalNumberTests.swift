import Testing
@testable import Lantern

@Suite("DecimalNumber")
struct DecimalNumberTests {
    @Test("numerals", arguments: [
        ("0", UInt64.max, UInt64?(0)), ("7", .max, 7), ("007", .max, 7), ("65535", 65535, 65535), ("65536", 65535, nil),
        ("18446744073709551615", .max, .max), ("18446744073709551616", .max, nil), ("99999999999999999999999", .max, nil),
        ("", .max, nil), ("+5", .max, nil), ("-5", .max, nil), (" 5", .max, nil), ("5 ", .max, nil), ("1e3", .max, nil),
        ("1.5", .max, nil), ("0x10", .max, nil), ("٣", .max, nil), ("255", 255, 255), ("256", 255, nil), ("10", 9, nil),
    ] as [(String, UInt64, UInt64?)])
    func parse(text: String, max: UInt64, expected: UInt64?) {
        #expect(DecimalNumber.parse(Array(text.utf8), max: max) == expected)
    }

    @Test("into an Int range, 32-bit safe")
    func intRange() {
        #expect(DecimalNumber.parseInt("15".utf8, in: 8...15) == 15)
        #expect(DecimalNumber.parseInt("7".utf8, in: 8...15) == nil)
        #expect(DecimalNumber.parseInt("16".utf8, in: 8...15) == nil)
        #expect(DecimalNumber.parseInt("2147483647".utf8, in: 0...Int(Int32.max)) == Int(Int32.max))
        #expect(DecimalNumber.parseInt("2147483648".utf8, in: 0...Int(Int32.max)) == nil)
        #expect(DecimalNumber.parseInt("0".utf8, in: 1...Int.max) == nil)
    }

    @Test("canonical: no leading zero except 0 itself")
    func canonical() {
        #expect(DecimalNumber.isCanonical("0".utf8) && DecimalNumber.isCanonical("10".utf8))
        #expect(!DecimalNumber.isCanonical("01".utf8) && !DecimalNumber.isCanonical("00".utf8))
    }
}

/// The byte classes the parsers share: digits, hex digits, tchar.
@Suite("ASCII")
struct ASCIITests {
    @Test func digitsAndHexDigits() {
        for b in UInt8.min...UInt8.max {
            let decimal = (48...57).contains(b)
            let lower = (97...102).contains(b), upper = (65...70).contains(b)
            #expect(DecimalNumber.isDigit(b) == decimal, "\(b)")
            let expected: UInt8? = decimal ? b - 48 : lower ? b - 87 : upper ? b - 55 : nil
            #expect(ASCII.hexValue(b) == expected, "\(b)")
        }
    }

    /// RFC 9110 §5.6.2: tchar is ALPHA, DIGIT and 15 marks; no separator, space, control or non-ASCII.
    @Test func tokenBytes() {
        let marks = Set("!#$%&'*+-.^_`|~".utf8)
        let accepted = (UInt8.min...UInt8.max).filter(ASCII.isTokenByte)
        #expect(accepted.count == 26 + 26 + 10 + 15)
        #expect(accepted.allSatisfy { marks.contains($0) || DecimalNumber.isDigit($0) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) })
        for b in Array("()<>@,;:\\\"/[]?={} \t".utf8) + [0, 0x7F, 0x80, 0xFF] {
            #expect(!ASCII.isTokenByte(b), "\(b)")
        }
    }
}
