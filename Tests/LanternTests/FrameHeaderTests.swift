import Testing
@testable import Lantern

/// One RFC 6455 §5.7 example: the frame's bytes, the header they start with, and its encoded length.
struct HeaderVector: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let header: FrameHeader
    let headerLength: Int
    let rules: FrameRules
    var testDescription: String { name }
}

/// The mask key of the §5.7 examples, 37 fa 21 3d, as loaded from the wire (first byte lowest).
let rfcMaskKey: UInt32 = 0x3D21_FA37

let unmasked = FrameRules(requireMask: false)

let rfcHeaderVectors: [HeaderVector] = [
    HeaderVector(name: "single-frame unmasked Hello", bytes: hex("81 05 48 65 6c 6c 6f"),
                 header: FrameHeader(fin: true, opcode: .text, payloadLength: 5), headerLength: 2, rules: unmasked),
    HeaderVector(name: "single-frame masked Hello", bytes: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
                 header: FrameHeader(fin: true, opcode: .text, maskKey: rfcMaskKey, payloadLength: 5), headerLength: 6, rules: FrameRules()),
    HeaderVector(name: "fragmented first Hel", bytes: hex("01 03 48 65 6c"),
                 header: FrameHeader(fin: false, opcode: .text, payloadLength: 3), headerLength: 2, rules: unmasked),
    HeaderVector(name: "fragmented last lo", bytes: hex("80 02 6c 6f"),
                 header: FrameHeader(fin: true, opcode: .continuation, payloadLength: 2), headerLength: 2, rules: unmasked),
    HeaderVector(name: "unmasked ping", bytes: hex("89 05 48 65 6c 6c 6f"),
                 header: FrameHeader(fin: true, opcode: .ping, payloadLength: 5), headerLength: 2, rules: unmasked),
    HeaderVector(name: "masked pong", bytes: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
                 header: FrameHeader(fin: true, opcode: .pong, maskKey: rfcMaskKey, payloadLength: 5), headerLength: 6, rules: FrameRules()),
    HeaderVector(name: "256-byte binary", bytes: hex("82 7E 01 00"),
                 header: FrameHeader(fin: true, opcode: .binary, payloadLength: 256), headerLength: 4, rules: unmasked),
    HeaderVector(name: "64 KiB binary", bytes: hex("82 7F 00 00 00 00 00 01 00 00"),
                 header: FrameHeader(fin: true, opcode: .binary, payloadLength: 65536), headerLength: 10, rules: unmasked),
]

@Suite("FrameHeader")
struct FrameHeaderTests {
    @Test("RFC 6455 §5.7 examples parse", arguments: rfcHeaderVectors)
    func parsesRFCExamples(v: HeaderVector) throws {
        let parsed = try #require(try parseHeader(v.bytes, rules: v.rules))
        #expect(parsed.0 == v.header)
        #expect(parsed.1 == v.headerLength)
    }

    @Test("every strict prefix of a header needs more bytes", arguments: rfcHeaderVectors)
    func strictPrefixesReturnNil(v: HeaderVector) throws {
        for n in 0..<v.headerLength {
            #expect(try parseHeader(Array(v.bytes[..<n]), rules: v.rules) == nil, "prefix of \(n) bytes")
        }
        // The header alone (no payload yet) is enough.
        #expect(try parseHeader(Array(v.bytes[..<v.headerLength]), rules: v.rules)?.0 == v.header)
    }

    @Test("encode reproduces the RFC header bytes", arguments: rfcHeaderVectors)
    func encodesRFCExamples(v: HeaderVector) {
        #expect(v.header.encoded == Array(v.bytes[..<v.headerLength]))
    }

    @Test("masked frames are accepted when masks are optional", arguments: rfcHeaderVectors.filter { $0.header.maskKey != nil })
    func maskedAcceptedWithoutRequirement(v: HeaderVector) throws {
        let parsed = try #require(try parseHeader(v.bytes, rules: unmasked))
        #expect(parsed.0 == v.header)
    }

    @Test("length forms at the 7/16/64-bit boundaries", arguments: [
        (UInt64(0), hex("82 00")),
        (125, hex("82 7D")),
        (126, hex("82 7E 00 7E")),
        (127, hex("82 7E 00 7F")),
        (65535, hex("82 7E FF FF")),
        (65536, hex("82 7F 00 00 00 00 00 01 00 00")),
        (UInt64(UInt32.max) + 1, hex("82 7F 00 00 00 01 00 00 00 00")),
        (UInt64(Int64.max), hex("82 7F 7F FF FF FF FF FF FF FF")),
    ] as [(UInt64, [UInt8])])
    func lengthBoundaries(length: UInt64, bytes: [UInt8]) throws {
        let header = FrameHeader(fin: true, opcode: .binary, payloadLength: length)
        #expect(header.encoded == bytes, "shortest form for \(length)")
        let parsed = try #require(try parseHeader(bytes, rules: unmasked))
        #expect(parsed.0 == header)
        #expect(parsed.1 == bytes.count)
        for n in 0..<bytes.count {
            #expect(try parseHeader(Array(bytes[..<n]), rules: unmasked) == nil, "prefix of \(n) bytes")
        }
    }

    @Test("encode/parse round trip", arguments: [0, 1, 5, 125, 126, 127, 1000, 65535, 65536, 1 << 32, UInt64(Int64.max)] as [UInt64],
          [nil, UInt32(0), rfcMaskKey, 0xFFFF_FFFF] as [UInt32?])
    func roundTrip(length: UInt64, key: UInt32?) throws {
        for (opcode, fin, rsv) in [(Opcode.binary, true, UInt8(0)), (.text, false, FrameHeader.rsv1), (.continuation, true, 0x30)] {
            let header = FrameHeader(fin: fin, reservedBits: rsv, opcode: opcode, maskKey: key, payloadLength: length)
            let bytes = header.encoded
            let expectedLength = (length < 126 ? 2 : length <= 0xFFFF ? 4 : 10) + (key == nil ? 0 : 4)
            #expect(bytes.count == expectedLength)
            let rules = FrameRules(allowedReservedBits: 0x70, requireMask: false)
            let parsed = try #require(try parseHeader(bytes, rules: rules))
            #expect(parsed.0 == header)
            #expect(parsed.1 == bytes.count)
        }
    }

    @Test("control frames round trip up to 125 bytes", arguments: [.connectionClose, .ping, .pong] as [Opcode], [0, 125] as [UInt64])
    func controlRoundTrip(opcode: Opcode, length: UInt64) throws {
        let header = FrameHeader(fin: true, opcode: opcode, maskKey: rfcMaskKey, payloadLength: length)
        let parsed = try #require(try parseHeader(header.encoded, rules: FrameRules()))
        #expect(parsed.0 == header)
    }

    @Test("64-bit length with the most significant bit set is invalid", arguments: [
        (hex("82 7F 80 00 00 00 00 00 00 00"), unmasked),
        (hex("82 7F FF FF FF FF FF FF FF FF"), unmasked),
        (hex("82 FF 80 00 00 00 00 00 00 00"), FrameRules()),  // masked: fails before the key arrives
    ] as [([UInt8], FrameRules)])
    func msbSetLength(bytes: [UInt8], rules: FrameRules) {
        #expect(throws: ProtocolError.invalidLength) { try parseHeader(bytes, rules: rules) }
    }

    @Test("reserved bits are refused unless an extension allows them", arguments: [0x40, 0x20, 0x10, 0x70, 0x60] as [UInt8])
    func reservedBits(bits: UInt8) throws {
        let bytes = [0x81 | bits, 0x80, 1, 2, 3, 4]
        #expect(throws: ProtocolError.reservedBitsSet) { try parseHeader(bytes, rules: FrameRules()) }
        // Only the first two bytes are needed to fail.
        #expect(throws: ProtocolError.reservedBitsSet) { try parseHeader(Array(bytes[..<2]), rules: FrameRules()) }
        // Allowed: all of them.
        let parsed = try #require(try parseHeader(bytes, rules: FrameRules(allowedReservedBits: 0x70)))
        #expect(parsed.0.reservedBits == bits)
        // RSV1 allowed (permessage-deflate) does not allow RSV2/RSV3.
        if bits & ~FrameHeader.rsv1 != 0 {
            #expect(throws: ProtocolError.reservedBitsSet) { try parseHeader(bytes, rules: FrameRules(allowedReservedBits: FrameHeader.rsv1)) }
        } else {
            #expect(try parseHeader(bytes, rules: FrameRules(allowedReservedBits: FrameHeader.rsv1))?.0.reservedBits == FrameHeader.rsv1)
        }
    }

    @Test("unknown opcodes", arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func unknownOpcodes(op: UInt8) {
        #expect(throws: ProtocolError.unknownOpcode(op)) { try parseHeader([0x80 | op, 0x80, 1, 2, 3, 4], rules: FrameRules()) }
        #expect(throws: ProtocolError.unknownOpcode(op)) { try parseHeader([op, 0x00], rules: unmasked) }
    }

    @Test("known opcodes", arguments: [(0, .continuation), (1, .text), (2, .binary), (8, .connectionClose), (9, .ping), (0xA, .pong)] as [(UInt8, Opcode)])
    func knownOpcodes(raw: UInt8, opcode: Opcode) throws {
        #expect(try parseHeader([0x80 | raw, 0x80, 1, 2, 3, 4], rules: FrameRules())?.0.opcode == opcode)
        #expect(opcode.isControl == (raw >= 8))
    }

    @Test("control frames longer than 125 bytes", arguments: [
        hex("89 FE 00 7E 01 02 03 04"),      // masked ping, 126 via 16-bit form
        hex("88 FF 00 00 00 00 00 00 01 00"),  // masked close, 64-bit form
        hex("8A 7E 00 7E"),                   // pong, 126
        hex("89 7E 00 05"),                   // ping whose 16-bit length is small: the form alone is too long
        hex("89 FE"),                         // detected from the first two bytes
    ] as [[UInt8]])
    func controlTooLong(bytes: [UInt8]) {
        #expect(throws: ProtocolError.controlFrameTooLong) { try parseHeader(bytes, rules: unmasked) }
    }

    @Test("fragmented control frames", arguments: [hex("08 80"), hex("09 85 01 02 03 04"), hex("0A 80 01 02 03 04")] as [[UInt8]])
    func fragmentedControl(bytes: [UInt8]) {
        #expect(throws: ProtocolError.fragmentedControlFrame) { try parseHeader(bytes, rules: FrameRules()) }
    }

    @Test("unmasked client frames are refused by default", arguments: rfcHeaderVectors.filter { $0.header.maskKey == nil })
    func unmaskedRefused(v: HeaderVector) {
        #expect(throws: ProtocolError.unmaskedClientFrame) { try parseHeader(v.bytes, rules: FrameRules()) }
        #expect(throws: ProtocolError.unmaskedClientFrame) { try parseHeader(Array(v.bytes[..<2]), rules: FrameRules()) }
    }

    @Test("encode writes RSV bits, FIN and the key in wire order")
    func encodeFlags() {
        let header = FrameHeader(fin: false, reservedBits: FrameHeader.rsv1, opcode: .text, maskKey: rfcMaskKey, payloadLength: 3)
        #expect(header.encoded == hex("41 83 37 fa 21 3d"))
        #expect(FrameHeader.maxEncodedLength == 14)
        #expect(FrameHeader(fin: true, opcode: .binary, maskKey: 1, payloadLength: 1 << 40).encoded.count == 14)
    }
}
