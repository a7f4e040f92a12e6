import Testing
@testable import Lantern

/// Runs a `MessageReader` over a client byte stream fed as `chunks` (one read each); returns
/// the events with the message or control payload of each, and whether each message was read
/// in place.
func assembleStream(
    _ chunks: [[UInt8]], maxMessageBytes: Int = 1 << 20, compressionNegotiated: Bool = false
) throws -> [(InboundEvent, [UInt8])] {
    try readStream(chunks, maxMessageBytes: maxMessageBytes, compressionNegotiated: compressionNegotiated).map { ($0.0, $0.1) }
}

func readStream(
    _ chunks: [[UInt8]], maxMessageBytes: Int = 1 << 20, compressionNegotiated: Bool = false
) throws -> [(InboundEvent, [UInt8], inPlace: Bool)] {
    var reader = MessageReader(maxMessageBytes: maxMessageBytes, compressionNegotiated: compressionNegotiated, requireMask: false)
    var out: [(InboundEvent, [UInt8], inPlace: Bool)] = []
    var buffer: [UInt8] = []
    for chunk in chunks + [[]] {
        buffer += chunk
        while true {
            let step: (InboundEvent?, Int, [UInt8], Bool) = try buffer.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) throws in
                let (event, used) = try reader.next(raw)
                switch event {
                case .message?: return (event, used, reader.withMessage { Array($0) }, reader.messageIsInPlace)
                case .some: return (event, used, reader.control, false)
                case nil: return (nil, used, [], false)
                }
            }
            buffer.removeFirst(step.1)
            guard let event = step.0 else { break }
            out.append((event, step.2, step.3))
            if case .message = event { reader.messageHandled(keepingUpTo: 1 << 20) }
        }
    }
    return out
}

@Suite("MessageReader")
struct MessageReaderTests {
    @Test("RFC 6455 §5.7 fragmented Hello reassembles however it is fed")
    func fragmentedRFCVector() throws {
        let bytes = hex("01 03 48 65 6c 80 02 6c 6f")
        for feeding in feedings(bytes) {
            let events = try assembleStream(feeding.chunks)
            #expect(events.count == 1, "\(feeding.name)")
            #expect(events.first?.0 == .message(.text, compressed: false), "\(feeding.name)")
            #expect(events.first?.1 == hello, "\(feeding.name)")
        }
    }

    @Test("fragmented text with a ping between fragments")
    func pingBetweenFragments() throws {
        // "Hel" (text, FIN 0), ping "p", "lo" (continuation, FIN 1) — RFC 6455 §5.4 allows the ping.
        let bytes = hex("01 03 48 65 6c 89 01 70 80 02 6c 6f")
        for feeding in feedings(bytes) {
            let events = try assembleStream(feeding.chunks)
            #expect(events.map(\.0) == [.ping, .message(.text, compressed: false)], "\(feeding.name)")
            #expect(events.map(\.1) == [[0x70], hello], "\(feeding.name)")
        }
    }

    @Test("pong and close may also come between fragments")
    func otherControlsBetweenFragments() throws {
        var d = ReaderDriver()
        #expect(try d.frame(.binary, fin: false, [1, 2]) == nil)
        #expect(d.reader.isInMessage)
        #expect(try d.frame(.pong, [9]) == .pong)
        #expect(try d.frame(.connectionClose, hex("03 e8")) == .close(.normalClosure))
        #expect(try d.frame(.continuation, fin: false, [3]) == nil)
        #expect(try d.frame(.continuation, fin: true, []) == .message(.binary, compressed: false))
        #expect(d.message == [1, 2, 3])
        #expect(!d.reader.isInMessage)
    }

    @Test("unfragmented messages, one after another")
    func consecutiveMessages() throws {
        var d = ReaderDriver()
        #expect(try d.frame(.text, hello) == .message(.text, compressed: false))
        #expect(d.message == hello)
        #expect(try d.frame(.binary, [0xFF, 0x00]) == .message(.binary, compressed: false))
        #expect(d.message == [0xFF, 0x00])
        #expect(try d.frame(.text, []) == .message(.text, compressed: false))
        #expect(d.message == [])
    }

    @Test("continuation without a started message", arguments: [true, false])
    func unexpectedContinuation(fin: Bool) throws {
        var d = ReaderDriver()
        #expect(throws: ProtocolError.unexpectedContinuation) { try d.frame(.continuation, fin: fin, hello) }
        // Also after a message has completed.
        var e = ReaderDriver()
        _ = try e.frame(.text, hello)
        #expect(throws: ProtocolError.unexpectedContinuation) { try e.frame(.continuation, fin: fin, hello) }
    }

    @Test("a new data frame inside a fragmented message", arguments: [Opcode.text, .binary])
    func expectedContinuation(opcode: Opcode) throws {
        var d = ReaderDriver()
        _ = try d.frame(.text, fin: false, Array("Hel".utf8))
        #expect(throws: ProtocolError.expectedContinuation) { try d.frame(opcode, fin: true, Array("lo".utf8)) }
    }

    @Test("invalid UTF-8 in a first fragment fails at payload time, before the message ends")
    func invalidUTF8FailsEarly() throws {
        var a = MessageAssembler(maxMessageBytes: 1000)
        try a.frameStart(FrameHeader(fin: false, opcode: .text, payloadLength: 100))
        try [UInt8](hello).withUnsafeBytes { try a.payload($0, restOfFrame: 95) }
        #expect(throws: ProtocolError.invalidUTF8) { try [UInt8]([0xC0, 0xAF]).withUnsafeBytes { try a.payload($0, restOfFrame: 93) } }
    }

    @Test("invalid UTF-8 in a continuation fails at payload time")
    func invalidUTF8InContinuation() throws {
        var d = ReaderDriver()
        _ = try d.frame(.text, fin: false, Array("κό".utf8))
        let header = FrameHeader(fin: true, opcode: .continuation, payloadLength: 10).encoded
        #expect(throws: ProtocolError.invalidUTF8) { try d.feed(header + [0xED, 0xA0, 0x80]) }
    }

    @Test("a UTF-8 sequence split across fragments and chunks is valid", arguments: ["€", "😀", "κόσμε", "a𐍈b€c"])
    func utf8AcrossFragments(text: String) throws {
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            var d = ReaderDriver()
            #expect(try d.frame(.text, fin: false, Array(bytes[..<split])) == nil)
            // The second fragment byte by byte.
            #expect(try d.frame(.continuation, fin: true, chunks: bytes[split...].map { [$0] }) == .message(.text, compressed: false), "split \(split)")
            #expect(d.message == bytes)
        }
        // One byte per fragment.
        var d = ReaderDriver()
        for (i, b) in bytes.enumerated() {
            let event = try d.frame(i == 0 ? .text : .continuation, fin: i == bytes.count - 1, [b])
            #expect(event == (i == bytes.count - 1 ? .message(.text, compressed: false) : nil))
        }
        #expect(d.message == bytes)
    }

    @Test("an incomplete sequence at message end is invalid", arguments: [hex("E2 82"), hex("F0 9F 98"), hex("48 C3")])
    func incompleteAtEnd(bytes: [UInt8]) throws {
        var d = ReaderDriver()
        #expect(throws: ProtocolError.invalidUTF8) { try d.frame(.text, bytes) }
        // Not at a fragment end, though.
        var e = ReaderDriver()
        #expect(try e.frame(.text, fin: false, bytes) == nil)
    }

    @Test("binary messages are not checked for UTF-8")
    func binaryNotValidated() throws {
        var d = ReaderDriver()
        #expect(try d.frame(.binary, hex("FF C0 ED A0 80 E2")) == .message(.binary, compressed: false))
    }

    @Test("message size limit", arguments: [1, 10, 125, 1000])
    func sizeLimit(max: Int) throws {
        var d = ReaderDriver(maxMessageBytes: max)
        #expect(try d.frame(.binary, [UInt8](repeating: 7, count: max)) == .message(.binary, compressed: false))
        #expect(throws: ProtocolError.messageTooBig) { try d.frame(.binary, [UInt8](repeating: 7, count: max + 1)) }

        // Across fragments: the limit counts what is already buffered.
        var e = ReaderDriver(maxMessageBytes: max)
        let first = max / 2
        _ = try e.frame(.text, fin: false, [UInt8](repeating: 0x61, count: first))
        #expect(try e.frame(.continuation, fin: true, [UInt8](repeating: 0x61, count: max - first)) == .message(.text, compressed: false))
        #expect(e.message.count == max)
        var f = ReaderDriver(maxMessageBytes: max)
        _ = try f.frame(.text, fin: false, [UInt8](repeating: 0x61, count: first))
        #expect(throws: ProtocolError.messageTooBig) { try f.frame(.continuation, fin: true, [UInt8](repeating: 0x61, count: max - first + 1)) }
    }

    @Test("a 2^63-1 length header is too big, checked before any payload", arguments: [Opcode.text, .binary])
    func hugeLengthHeader(opcode: Opcode) throws {
        var a = MessageAssembler(maxMessageBytes: 1 << 20)
        #expect(throws: ProtocolError.messageTooBig) {
            try a.frameStart(FrameHeader(fin: true, opcode: opcode, payloadLength: UInt64(Int64.max)))
        }
        #expect(a.message.capacity < 1 << 20)
        // Same for a continuation of an open message, and for Int.max as the limit.
        var b = MessageAssembler(maxMessageBytes: Int.max)
        try b.frameStart(FrameHeader(fin: false, opcode: opcode, payloadLength: 1))
        try [UInt8]([0x61]).withUnsafeBytes { try b.payload($0, restOfFrame: 0) }
        _ = try b.frameEnd()
        #expect(throws: ProtocolError.messageTooBig) {
            try b.frameStart(FrameHeader(fin: true, opcode: .continuation, payloadLength: UInt64(Int64.max)))
        }
    }

    @Test("control frames do not count against the message limit")
    func controlNotCounted() throws {
        var d = ReaderDriver(maxMessageBytes: 1)
        #expect(try d.frame(.ping, [UInt8](repeating: 1, count: 125)) == .ping)
        #expect(d.reader.control.count == 125)
    }

    @Test("RSV1 without permessage-deflate", arguments: [Opcode.text, .binary])
    func rsv1WithoutCompression(opcode: Opcode) {
        var d = ReaderDriver(compressionNegotiated: false)
        #expect(throws: ProtocolError.reservedBitsSet) { try d.frame(opcode, rsv: FrameHeader.rsv1, [1]) }
    }

    @Test("RSV1 with permessage-deflate marks a compressed message, not UTF-8 checked until inflated")
    func rsv1WithCompression() throws {
        var d = ReaderDriver(compressionNegotiated: true)
        #expect(try d.frame(.text, fin: false, rsv: FrameHeader.rsv1, [0xF2, 0x48]) == nil)
        #expect(try d.frame(.continuation, fin: true, [0xCD, 0xC9]) == .message(.text, compressed: true))
        #expect(d.message == [0xF2, 0x48, 0xCD, 0xC9])
        // The next uncompressed message is not marked compressed.
        #expect(try d.frame(.text, hello) == .message(.text, compressed: false))
    }

    @Test("RSV1 on a continuation or a control frame", arguments: [Opcode.continuation, .ping, .pong, .connectionClose], [true, false])
    func rsv1Misplaced(opcode: Opcode, negotiated: Bool) throws {
        var d = ReaderDriver(compressionNegotiated: negotiated)
        _ = try d.frame(.binary, fin: false, [1])
        #expect(throws: ProtocolError.reservedBitsSet) { try d.frame(opcode, rsv: FrameHeader.rsv1, []) }
    }

    @Test("RSV2 and RSV3 are never allowed", arguments: [UInt8(0x20), 0x10, 0x60, 0x70])
    func rsv23(bits: UInt8) {
        var d = ReaderDriver(compressionNegotiated: true)
        #expect(throws: ProtocolError.reservedBitsSet) { try d.frame(.binary, rsv: bits, [1]) }
    }

    @Test("close frames", arguments: [
        ([], CloseCode?.none, []),
        (hex("03 e8"), .normalClosure, []),
        (hex("03 e8") + Array("bye".utf8), .normalClosure, Array("bye".utf8)),
        (hex("0f a0") + Array("κόσμε".utf8), CloseCode(rawValue: 4000), Array("κόσμε".utf8)),
    ] as [([UInt8], CloseCode?, [UInt8])])
    func closeFrames(payload: [UInt8], code: CloseCode?, reason: [UInt8]) throws {
        var d = ReaderDriver()
        #expect(try d.frame(.connectionClose, payload) == .close(code))
        #expect(Array(d.reader.closeReason) == reason)
    }

    @Test("bad close frames", arguments: [
        (hex("03"), ProtocolError.closePayloadTooShort),
        (hex("03 ed"), .invalidCloseCode(1005)),
        (hex("00 00"), .invalidCloseCode(0)),
        (hex("03 e8 ff"), .invalidUTF8),
        (hex("03 e8 ce ba e1"), .invalidUTF8),
    ] as [([UInt8], ProtocolError)])
    func badCloseFrames(payload: [UInt8], error: ProtocolError) {
        var d = ReaderDriver()
        #expect(throws: error) { try d.frame(.connectionClose, payload) }
    }

    @Test("close frame through the decoder, masked")
    func closeThroughDecoder() throws {
        // Close 1000 "ok", masked with 37 fa 21 3d.
        let payload = naiveMask(hex("03 e8 6f 6b"), key: rfcMaskKey)
        let bytes = hex("88 84 37 fa 21 3d") + payload
        for feeding in feedings(bytes) {
            let events = try assembleStream(feeding.chunks)
            #expect(events.map(\.0) == [.close(.normalClosure)], "\(feeding.name)")
            #expect(events.first?.1 == hex("03 e8 6f 6b"), "\(feeding.name)")
        }
    }

    @Test("only a whole single-frame message that arrived in one read is left in place")
    func readInPlace() throws {
        var d = ReaderDriver(maxMessageBytes: 1000)
        // The whole payload of a FIN text frame at once: validated, not copied.
        #expect(try d.frame(.text, hello) == .message(.text, compressed: false))
        #expect(d.message == hello && d.messageWasInPlace)
        // Split across two reads: copied.
        #expect(try d.frame(.binary, chunks: [[1, 2], [3, 4, 5]]) == .message(.binary, compressed: false))
        #expect(d.message == [1, 2, 3, 4, 5] && !d.messageWasInPlace)
        // Fragments of one message are always copied, the final continuation too.
        #expect(try d.frame(.text, fin: false, Array("Hel".utf8)) == nil)
        #expect(try d.frame(.continuation, Array("lo".utf8)) == .message(.text, compressed: false))
        #expect(d.message == hello && !d.messageWasInPlace)
        // Control frames keep their payload in `control`.
        #expect(try d.frame(.ping, [0x70]) == .ping)
        #expect(d.reader.control == [0x70])
        // In place or not, invalid UTF-8 fails.
        #expect(throws: ProtocolError.invalidUTF8) { try d.frame(.text, [0xC0, 0xAF]) }
    }

    @Test("in place or copied, the same messages come out", arguments: [
        "01 03 48 65 6c 80 02 6c 6f", "01 03 48 65 6c 89 01 70 80 02 6c 6f", "81 05 48 65 6c 6c 6f 82 02 ff 00 81 00",
        "81 85 37 fa 21 3d 7f 9f 4d 51 58 82 03 01 02 03 88 02 03 e8",
    ])
    func inPlaceMatchesCopied(stream: String) throws {
        let bytes = hex(stream)
        let whole = try readStream([bytes])
        let byteByByte = try readStream(bytes.map { [$0] })
        #expect(whole.map(\.0) == byteByByte.map(\.0))
        #expect(whole.map(\.1) == byteByByte.map(\.1))
        // Read whole, every single-frame data message stays in place; byte by byte none does
        // (except an empty one, which has no bytes to copy).
        #expect(whole.contains { $0.inPlace } == (stream.hasPrefix("81") || stream.hasPrefix("82")))
        #expect(!byteByByte.contains { $0.inPlace && !$0.1.isEmpty })
    }

    @Test("releaseMessage drops a large buffer and keeps a small one")
    func releaseMessage() throws {
        var a = MessageAssembler(maxMessageBytes: 1 << 20)
        for (size, keptCapacity) in [(5000, false), (100, true)] {
            try a.frameStart(FrameHeader(fin: true, opcode: .binary, payloadLength: UInt64(size)))
            try [UInt8](repeating: 1, count: size).withUnsafeBytes { try a.payload($0, restOfFrame: 0) }
            #expect(try a.frameEnd() == .message(.binary, compressed: false))
            #expect(a.message.count == size)
            a.releaseMessage(keepingUpTo: 1024)
            #expect(a.message.isEmpty)
            #expect((a.message.capacity >= size) == keptCapacity)
        }
    }
}
