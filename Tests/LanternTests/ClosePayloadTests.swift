import Testing
@testable import Lantern

@Suite("ClosePayload")
struct ClosePayloadTests {
    @Test("an empty payload has no code")
    func empty() throws {
        #expect(try ClosePayload.code(of: []) == nil)
    }

    @Test("a one-byte payload is too short", arguments: [0x03, 0x00, 0xFF] as [UInt8])
    func oneByte(b: UInt8) {
        #expect(throws: ProtocolError.closePayloadTooShort) { try ClosePayload.code(of: [b]) }
    }

    @Test("codes a peer may send", arguments: [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] as [UInt16])
    func validCodes(code: UInt16) throws {
        let bytes = [UInt8(code >> 8), UInt8(code & 0xFF)]
        #expect(try ClosePayload.code(of: bytes) == CloseCode(rawValue: code))
        #expect(try ClosePayload.code(of: bytes + Array("reason κόσμε".utf8)) == CloseCode(rawValue: code))
        #expect(CloseCode(rawValue: code).isValidOnWire)
    }

    @Test("codes a peer may not send", arguments: [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] as [UInt16])
    func invalidCodes(code: UInt16) {
        let bytes = [UInt8(code >> 8), UInt8(code & 0xFF)]
        #expect(throws: ProtocolError.invalidCloseCode(code)) { try ClosePayload.code(of: bytes) }
        #expect(throws: ProtocolError.invalidCloseCode(code)) { try ClosePayload.code(of: bytes + Array("bye".utf8)) }
        #expect(!CloseCode(rawValue: code).isValidOnWire)
    }

    @Test("a reason that is not UTF-8", arguments: [hex("ff"), hex("c0 af"), hex("ed a0 80"), hex("ce ba e1"), hex("f4 90 80 80")])
    func invalidReason(reason: [UInt8]) {
        #expect(throws: ProtocolError.invalidUTF8) { try ClosePayload.code(of: hex("03 e8") + reason) }
    }

    @Test("encode")
    func encode() {
        #expect(ClosePayload.encode(code: nil) == [])
        #expect(ClosePayload.encode(code: nil, reason: "ignored") == [])
        #expect(ClosePayload.encode(code: .normalClosure) == hex("03 e8"))
        #expect(ClosePayload.encode(code: .goingAway, reason: "bye") == hex("03 e9 62 79 65"))
        #expect(ClosePayload.encode(code: .messageTooBig, reason: "é") == hex("03 f1 c3 a9"))
        #expect(ClosePayload.encode(code: CloseCode(rawValue: 4999), reason: "x") == hex("13 87 78"))
    }

    /// Reasons longer than 123 bytes and the length each must be cut to (RFC 6455 §5.5).
    @Test("encode cuts reasons to at most 123 bytes at a character boundary")
    func encodeCuts() throws {
        let cases: [(StaticString, Int)] = [
            ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 123),
            ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 123),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 123),
            ("éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé", 122),      // 2-byte characters: 123 would split one
            ("€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€€", 123),     // 3-byte characters: 41 fit exactly
            ("😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", 120),     // 4-byte characters
            ("a😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", 121),     // 1 + 4k
        ]
        for (reason, length) in cases {
            let out = ClosePayload.encode(code: .normalClosure, reason: reason)
            #expect(out.count == 2 + length, "\(reason)")
            #expect(out.count <= 125)
            let text = Array(out[2...])
            #expect(String(validating: text, as: UTF8.self) != nil, "cut inside a character: \(reason)")
            #expect(reason.utf8Bytes.starts(with: text))
            // What we send, we accept.
            #expect(try ClosePayload.code(of: out) == .normalClosure)
        }
    }

    @Test("every protocol error's reason fits a close frame", arguments: [
        ProtocolError.reservedBitsSet, .unmaskedClientFrame, .unknownOpcode(3), .controlFrameTooLong, .fragmentedControlFrame,
        .unexpectedContinuation, .expectedContinuation, .invalidLength, .invalidCloseCode(1005), .closePayloadTooShort,
        .invalidUTF8, .messageTooBig, .compressionError,
    ])
    func errorReasons(error: ProtocolError) throws {
        let payload = ClosePayload.encode(code: error.closeCode, reason: error.reason)
        #expect(payload.count <= 125 && payload.count > 2)
        #expect(try ClosePayload.code(of: payload) == error.closeCode)
    }

    @Test("protocol errors map to close codes (RFC 6455 §7.4.1)", arguments: [
        (ProtocolError.invalidUTF8, CloseCode.invalidPayloadData),
        (.compressionError, .invalidPayloadData),
        (.messageTooBig, .messageTooBig),
        (.reservedBitsSet, .protocolError),
        (.unmaskedClientFrame, .protocolError),
        (.invalidCloseCode(0), .protocolError),
        (.unknownOpcode(0xB), .protocolError),
    ] as [(ProtocolError, CloseCode)])
    func errorCodes(error: ProtocolError, code: CloseCode) {
        #expect(error.closeCode == code)
    }

    @Test("IANA names")
    func names() {
        let table: [(CloseCode, UInt16)] = [(.normalClosure, 1000), (.goingAway, 1001), (.protocolError, 1002), (.unsupportedData, 1003),
                                            (.noStatusReceived, 1005), (.abnormalClosure, 1006), (.invalidPayloadData, 1007),
                                            (.policyViolation, 1008), (.messageTooBig, 1009), (.mandatoryExtension, 1010), (.internalError, 1011)]
        for (code, raw) in table { #expect(code.rawValue == raw) }
        #expect(!CloseCode.noStatusReceived.isValidOnWire && !CloseCode.abnormalClosure.isValidOnWire)
    }
}
