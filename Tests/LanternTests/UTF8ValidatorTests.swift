import Testing
@testable import Lantern

/// Feeds `chunks` to one validator; nil when a chunk was refused, else whether the end is complete.
func validate(chunks: [[UInt8]]) -> Bool {
    var v = UTF8Validator()
    for chunk in chunks {
        if !chunk.withUnsafeBytes({ v.consume($0) }) { return false }
    }
    return v.isComplete
}

func isValidUTF8(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { UTF8Validator.isValid($0) } }

/// Index of the first byte that `consume` refuses when fed byte by byte, or nil if none is refused.
func firstRefusedByte(_ bytes: [UInt8]) -> Int? {
    var v = UTF8Validator()
    for (i, b) in bytes.enumerated() where ![b].withUnsafeBytes({ v.consume($0) }) { return i }
    return nil
}

struct UTF8Case: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    var testDescription: String { name }
    init(_ name: String, _ bytes: [UInt8]) { self.name = name; self.bytes = bytes }
}

/// Valid sequences (Markus Kuhn's UTF-8 decoder capability and stress test, §1–2 and boundaries).
let validUTF8: [UTF8Case] = [
    UTF8Case("empty", []),
    UTF8Case("ASCII", Array("Hello, world!".utf8)),
    UTF8Case("all ASCII 00-7F", (0...0x7F).map { UInt8($0) }),
    UTF8Case("kosme", hex("ce ba e1 bd b9 cf 83 ce bc ce b5")),
    UTF8Case("U+0080 first 2-byte", hex("c2 80")),
    UTF8Case("U+07FF last 2-byte", hex("df bf")),
    UTF8Case("U+0800 first 3-byte", hex("e0 a0 80")),
    UTF8Case("U+D7FF before surrogates", hex("ed 9f bf")),
    UTF8Case("U+E000 after surrogates", hex("ee 80 80")),
    UTF8Case("U+FFFD", hex("ef bf bd")),
    UTF8Case("U+FFFF last 3-byte", hex("ef bf bf")),
    UTF8Case("U+10000 first 4-byte", hex("f0 90 80 80")),
    UTF8Case("U+10FFFF last code point", hex("f4 8f bf bf")),
    UTF8Case("U+FFFFF in F3", hex("f3 bf bf bf")),
    UTF8Case("emoji", Array("😀🎉".utf8)),
    UTF8Case("mixed after 8 ASCII bytes", Array("abcdefghij€κ𐍈z".utf8)),
    UTF8Case("long ASCII", [UInt8](repeating: 0x41, count: 1000)),
]

/// Invalid sequences and the index of the first byte that must be refused (fail fast, RFC 6455 §8.1).
let invalidUTF8: [(UTF8Case, Int)] = [
    (UTF8Case("above U+10FFFF F4 90 80 80", hex("f4 90 80 80")), 1),
    (UTF8Case("above U+10FFFF F4 BF BF BF", hex("f4 bf bf bf")), 1),
    (UTF8Case("overlong / C0 AF", hex("c0 af")), 0),
    (UTF8Case("overlong NUL C0 80", hex("c0 80")), 0),
    (UTF8Case("overlong C1 BF", hex("c1 bf")), 0),
    (UTF8Case("overlong / E0 80 AF", hex("e0 80 af")), 1),
    (UTF8Case("overlong U+07FF E0 9F BF", hex("e0 9f bf")), 1),
    (UTF8Case("overlong / F0 80 80 AF", hex("f0 80 80 af")), 1),
    (UTF8Case("overlong U+FFFF F0 8F BF BF", hex("f0 8f bf bf")), 1),
    (UTF8Case("surrogate U+D800 ED A0 80", hex("ed a0 80")), 1),
    (UTF8Case("surrogate U+DFFF ED BF BF", hex("ed bf bf")), 1),
    (UTF8Case("surrogate pair ED A0 80 ED B0 80", hex("ed a0 80 ed b0 80")), 1),
    (UTF8Case("lone continuation 80", hex("80")), 0),
    (UTF8Case("lone continuation BF", hex("bf")), 0),
    (UTF8Case("continuation after ASCII", hex("41 80")), 1),
    (UTF8Case("too many continuations", hex("c2 80 80")), 2),
    (UTF8Case("F5", hex("f5 80 80 80")), 0),
    (UTF8Case("F8 5-byte form", hex("f8 88 80 80 80")), 0),
    (UTF8Case("FC 6-byte form", hex("fc 84 80 80 80 80")), 0),
    (UTF8Case("FE", hex("fe")), 0),
    (UTF8Case("FF", hex("ff")), 0),
    (UTF8Case("truncated 2-byte then ASCII", hex("c2 41")), 1),
    (UTF8Case("truncated 3-byte then ASCII", hex("e2 82 41")), 2),
    (UTF8Case("truncated 4-byte then new lead", hex("f0 9f 98 f0 9f 98 80")), 3),
    (UTF8Case("kosme then C0", hex("ce ba e1 bd b9 cf 83 ce bc ce b5 c0")), 11),
    (UTF8Case("bad byte after 8 ASCII bytes", Array("abcdefgh".utf8) + [0xff]), 8),
]

/// Sequences that are fine so far but end inside a character.
let incompleteUTF8: [UTF8Case] = [
    UTF8Case("C2", hex("c2")),
    UTF8Case("E0 A0", hex("e0 a0")),
    UTF8Case("E2 82", hex("e2 82")),
    UTF8Case("ED 9F", hex("ed 9f")),
    UTF8Case("F0 90 80", hex("f0 90 80")),
    UTF8Case("F4 8F BF", hex("f4 8f bf")),
    UTF8Case("kosme then E1 BD", hex("ce ba e1 bd b9 cf 83 ce bc ce b5 e1 bd")),
    UTF8Case("9 ASCII bytes then F0", Array("abcdefghi".utf8) + [0xf0]),
]

@Suite("UTF8Validator")
struct UTF8ValidatorTests {
    @Test("valid sequences", arguments: validUTF8)
    func valid(c: UTF8Case) {
        #expect(isValidUTF8(c.bytes))
        #expect(String(validating: c.bytes, as: UTF8.self) != nil, "the table itself is wrong")
    }

    @Test("valid sequences split at every position (and byte by byte) stay valid", arguments: validUTF8.filter { $0.bytes.count < 200 })
    func validSplit(c: UTF8Case) {
        for feeding in feedings(c.bytes) {
            #expect(validate(chunks: feeding.chunks), "\(feeding.name)")
        }
    }

    @Test("invalid sequences fail at the first bad byte", arguments: invalidUTF8)
    func invalid(c: UTF8Case, failIndex: Int) {
        #expect(!isValidUTF8(c.bytes))
        #expect(String(validating: c.bytes, as: UTF8.self) == nil, "the table itself is wrong")
        #expect(firstRefusedByte(c.bytes) == failIndex)
        for feeding in feedings(c.bytes) {
            #expect(!validate(chunks: feeding.chunks), "\(feeding.name)")
        }
    }

    @Test("every byte F5...FF is refused", arguments: 0xF5...0xFF)
    func neverValidLeadBytes(b: Int) {
        #expect(firstRefusedByte([UInt8(b)]) == 0)
        #expect(firstRefusedByte(Array("0123456789".utf8) + [UInt8(b)]) == 10)
    }

    @Test("C0 and C1 are refused as lead bytes", arguments: [0xC0, 0xC1])
    func overlongLeads(b: Int) {
        for next in 0x80...0xBF {
            #expect(!isValidUTF8([UInt8(b), UInt8(next)]))
        }
    }

    @Test("truncated sequences are incomplete, not refused", arguments: incompleteUTF8)
    func incomplete(c: UTF8Case) {
        var v = UTF8Validator()
        #expect(c.bytes.withUnsafeBytes { v.consume($0) })
        #expect(!v.isComplete)
        #expect(!isValidUTF8(c.bytes))
        #expect(firstRefusedByte(c.bytes) == nil)
    }

    @Test("a bad byte at every position of a long ASCII run is found (word-at-a-time fast path)", arguments: [0x80, 0xFF, 0xC0])
    func badByteInASCIIRun(bad: Int) {
        for position in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes[position] = UInt8(bad)
            #expect(!isValidUTF8(bytes), "position \(position)")
            #expect(firstRefusedByte(bytes) == position)
        }
    }

    @Test("a multi-byte character at every position of a long ASCII run is accepted")
    func multiByteInASCIIRun() {
        for position in 0..<40 {
            var bytes = [UInt8](repeating: 0x61, count: 40)
            bytes.insert(contentsOf: hex("f0 9f 98 80"), at: position)
            #expect(isValidUTF8(bytes), "position \(position)")
        }
    }

    @Test("agrees with String(validating:as:) on random byte strings")
    func randomAgainstStandardLibrary() {
        var rng = SeededGenerator(seed: 3629)
        // Bytes chosen to hit the interesting ranges often.
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
                                    0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        var validCount = 0
        for round in 0..<5000 {
            let length = Int.random(in: 0...24, using: &rng)
            var bytes: [UInt8] = []
            switch round % 3 {
            case 0:
                bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 1:
                bytes = (0..<length).map { _ in interesting.randomElement(using: &rng)! }
            default:
                // Valid text from random scalars, then maybe one byte changed.
                var s = ""
                for _ in 0..<(length / 2) {
                    let plane = Int.random(in: 0..<4, using: &rng)
                    let range: ClosedRange<UInt32> = [0...0x7F, 0x80...0x7FF, 0x800...0xFFFF, 0x10000...0x10FFFF][plane]
                    if let scalar = Unicode.Scalar(UInt32.random(in: range, using: &rng)) { s.unicodeScalars.append(scalar) }
                }
                bytes = Array(s.utf8)
                if !bytes.isEmpty && Bool.random(using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = interesting.randomElement(using: &rng)!
                }
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            if expected { validCount += 1 }
            #expect(isValidUTF8(bytes) == expected, "\(hexString(bytes))")
            if bytes.count > 1 {
                let split = Int.random(in: 1..<bytes.count, using: &rng)
                #expect(validate(chunks: [Array(bytes[..<split]), Array(bytes[split...])]) == expected, "\(hexString(bytes)) split at \(split)")
            }
        }
        // The generator must produce a fair share of both outcomes to mean anything.
        #expect(validCount > 500 && validCount < 4500)
    }
}
