import Testing
@testable import Lantern

let hello = Array("Hello".utf8)

/// Builds the expected event list: for each header, start, the payload if non-empty, end.
func expectedEvents(_ frames: [(FrameHeader, [UInt8])]) -> [DecodedEvent] {
    var out: [DecodedEvent] = []
    for (header, payload) in frames {
        out.append(.start(header))
        if !payload.isEmpty { out.append(.payload(payload)) }
        out.append(.end)
    }
    return out
}

/// Masks `payload` with `key` the naive way (RFC 6455 §5.3: j = i MOD 4).
func naiveMask(_ payload: [UInt8], key: UInt32, offset: Int = 0) -> [UInt8] {
    payload.enumerated().map { i, b in b ^ UInt8(truncatingIfNeeded: key >> (UInt32((offset + i) % 4) * 8)) }
}

struct FrameCase: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let rules: FrameRules
    let frames: [FrameSpec]
    var testDescription: String { name }
}

struct FrameSpec: Sendable {
    let header: FrameHeader
    let payload: [UInt8]
}

let smallFrameCases: [FrameCase] = [
    FrameCase(name: "unmasked Hello", bytes: hex("81 05 48 65 6c 6c 6f"), rules: unmasked,
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .text, payloadLength: 5), payload: hello)]),
    FrameCase(name: "masked Hello", bytes: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .text, maskKey: rfcMaskKey, payloadLength: 5), payload: hello)]),
    FrameCase(name: "fragmented Hel + lo", bytes: hex("01 03 48 65 6c 80 02 6c 6f"), rules: unmasked,
              frames: [FrameSpec(header: FrameHeader(fin: false, opcode: .text, payloadLength: 3), payload: Array("Hel".utf8)),
                       FrameSpec(header: FrameHeader(fin: true, opcode: .continuation, payloadLength: 2), payload: Array("lo".utf8))]),
    FrameCase(name: "unmasked ping", bytes: hex("89 05 48 65 6c 6c 6f"), rules: unmasked,
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .ping, payloadLength: 5), payload: hello)]),
    FrameCase(name: "masked pong", bytes: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .pong, maskKey: rfcMaskKey, payloadLength: 5), payload: hello)]),
    FrameCase(name: "masked empty text", bytes: hex("81 80 37 fa 21 3d"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .text, maskKey: rfcMaskKey, payloadLength: 0), payload: [])]),
    FrameCase(name: "unmasked empty ping", bytes: hex("89 00"), rules: unmasked,
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .ping, payloadLength: 0), payload: [])]),
    FrameCase(name: "masked Hello then masked pong", bytes: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58 8a 85 37 fa 21 3d 7f 9f 4d 51 58"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .text, maskKey: rfcMaskKey, payloadLength: 5), payload: hello),
                       FrameSpec(header: FrameHeader(fin: true, opcode: .pong, maskKey: rfcMaskKey, payloadLength: 5), payload: hello)]),
    FrameCase(name: "two empty frames back to back", bytes: hex("82 80 01 02 03 04 88 80 05 06 07 08"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .binary, maskKey: 0x0403_0201, payloadLength: 0), payload: []),
                       FrameSpec(header: FrameHeader(fin: true, opcode: .connectionClose, maskKey: 0x0807_0605, payloadLength: 0), payload: [])]),
    FrameCase(name: "masked with a zero key", bytes: hex("82 83 00 00 00 00 01 02 03"), rules: FrameRules(),
              frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .binary, maskKey: 0, payloadLength: 3), payload: [1, 2, 3])]),
]

/// The §5.7 binary examples with their payloads, masked and unmasked.
func largeFrameCases() -> [FrameCase] {
    var rng = SeededGenerator(seed: 6455)
    var out: [FrameCase] = []
    for (length, prefix) in [(256, hex("7E 01 00")), (65536, hex("7F 00 00 00 00 00 01 00 00"))] {
        let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        out.append(FrameCase(name: "\(length)-byte binary unmasked", bytes: [0x82] + prefix + payload, rules: unmasked,
                             frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .binary, payloadLength: UInt64(length)), payload: payload)]))
        var maskedPrefix = prefix
        maskedPrefix[0] |= 0x80
        out.append(FrameCase(name: "\(length)-byte binary masked", bytes: [0x82] + maskedPrefix + hex("37 fa 21 3d") + naiveMask(payload, key: rfcMaskKey),
                             rules: FrameRules(),
                             frames: [FrameSpec(header: FrameHeader(fin: true, opcode: .binary, maskKey: rfcMaskKey, payloadLength: UInt64(length)), payload: payload)]))
    }
    return out
}

@Suite("FrameDecoder")
struct FrameDecoderTests {
    @Test("short streams decode the same fed whole, byte by byte and split at every position", arguments: smallFrameCases)
    func smallStreams(c: FrameCase) throws {
        let expected = expectedEvents(c.frames.map { ($0.header, $0.payload) })
        for feeding in feedings(c.bytes) {
            let events = try decodeFrames(feeding.chunks, rules: c.rules)
            #expect(events == expected, "\(feeding.name)")
        }
    }

    @Test("large §5.7 binary frames", arguments: largeFrameCases())
    func largeStreams(c: FrameCase) throws {
        let expected = expectedEvents(c.frames.map { ($0.header, $0.payload) })
        for feeding in coarseFeedings(c.bytes) {
            let events = try decodeFrames(feeding.chunks, rules: c.rules)
            #expect(events == expected, "\(feeding.name)")
        }
    }

    @Test("random frame streams encoded with FrameHeader.encode decode back, in random chunks", arguments: 0..<8)
    func randomStreams(seed: Int) throws {
        var rng = SeededGenerator(seed: 0xF7A3E &+ UInt64(seed))
        var stream: [UInt8] = []
        var expected: [(FrameHeader, [UInt8])] = []
        for _ in 0..<Int.random(in: 1...20, using: &rng) {
            let opcode = [Opcode.continuation, .text, .binary, .connectionClose, .ping, .pong].randomElement(using: &rng)!
            let maxLength = opcode.isControl ? 125 : [0, 125, 126, 300, 70_000].randomElement(using: &rng)!
            let length = Int.random(in: 0...maxLength, using: &rng)
            let payload = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let key = UInt32.random(in: 0...UInt32.max, using: &rng)
            let header = FrameHeader(fin: opcode.isControl || Bool.random(using: &rng), opcode: opcode, maskKey: key, payloadLength: UInt64(length))
            stream += header.encoded + naiveMask(payload, key: key)
            expected.append((header, payload))
        }
        var chunks: [[UInt8]] = []
        var position = 0
        while position < stream.count {
            let n = min(stream.count - position, Int.random(in: 1...(Bool.random(using: &rng) ? 16 : 5000), using: &rng))
            chunks.append(Array(stream[position..<(position + n)]))
            position += n
        }
        #expect(try decodeFrames(chunks) == expectedEvents(expected))
    }

    @Test("payload events never run past the frame")
    func payloadStopsAtFrameEnd() throws {
        var decoder = FrameDecoder(rules: FrameRules())
        var bytes = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58 89 80 00 00 00 00")
        try bytes.withUnsafeMutableBytes { raw in
            let (start, used) = try #require(try decoder.next(raw))
            guard case .frameStart(let h) = start else { Issue.record("expected frameStart, got \(start)"); return }
            #expect(h.payloadLength == 5 && used == 6)
            let rest = UnsafeMutableRawBufferPointer(rebasing: raw[6...])
            let (payload, n) = try #require(try decoder.next(rest))
            guard case .payload(let p) = payload else { Issue.record("expected payload, got \(payload)"); return }
            #expect(Array(p) == hello && n == 5)
            let (end, zero) = try #require(try decoder.next(UnsafeMutableRawBufferPointer(rebasing: raw[11...])))
            guard case .frameEnd = end else { Issue.record("expected frameEnd, got \(end)"); return }
            #expect(zero == 0)
        }
        // Unmasked in place.
        #expect(Array(bytes[6..<11]) == hello)
    }

    @Test("a zero-length frame yields frameStart then frameEnd even with no more bytes")
    func zeroLengthFrame() throws {
        var decoder = FrameDecoder(rules: FrameRules())
        var bytes = hex("8a 80 37 fa 21 3d")
        try bytes.withUnsafeMutableBytes { raw in
            let first = try #require(try decoder.next(raw))
            guard case .frameStart = first.0 else { Issue.record("expected frameStart"); return }
            #expect(first.1 == 6)
            let empty = UnsafeMutableRawBufferPointer(rebasing: raw[6...])
            let second = try #require(try decoder.next(empty))
            guard case .frameEnd = second.0 else { Issue.record("expected frameEnd"); return }
            #expect(try decoder.next(empty) == nil)
        }
    }

    @Test("violations surface through the decoder", arguments: [
        (hex("81 05 48 65 6c 6c 6f"), .unmaskedClientFrame),
        (hex("c1 85 37 fa 21 3d"), .reservedBitsSet),
        (hex("83 80 00 00 00 00"), .unknownOpcode(3)),
        (hex("09 80 00 00 00 00"), .fragmentedControlFrame),
        (hex("88 fe 00 7e"), .controlFrameTooLong),
        (hex("82 ff 80 00 00 00 00 00 00 00"), .invalidLength),
    ] as [([UInt8], ProtocolError)])
    func violations(bytes: [UInt8], error: ProtocolError) {
        #expect(throws: error) { try decodeFrames([bytes]) }
        #expect(throws: error) { try decodeFrames(bytes.map { [$0] }) }
    }
}

@Suite("Masking")
struct MaskingTests {
    @Test("RFC 6455 §5.7 masked Hello unmasks")
    func rfcVector() {
        var payload = hex("7f 9f 4d 51 58")
        let next = payload.withUnsafeMutableBytes { Masking.apply(key: rfcMaskKey, offset: 0, to: $0) }
        #expect(payload == hello)
        #expect(next == 1)
    }

    @Test("matches a naive XOR for every length 0...100 and offset", arguments: 0..<4)
    func matchesNaive(offset: Int) {
        var rng = SeededGenerator(seed: UInt64(offset) &+ 0x5A5A)
        for length in 0...100 {
            let key = UInt32.random(in: 0...UInt32.max, using: &rng)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Also at every misalignment of the buffer's start.
            for lead in 0..<8 {
                var buffer = [UInt8](repeating: 0xEE, count: lead) + data + [0xEE, 0xEE]
                let next = buffer.withUnsafeMutableBytes {
                    Masking.apply(key: key, offset: offset, to: UnsafeMutableRawBufferPointer(rebasing: $0[lead..<(lead + length)]))
                }
                #expect(Array(buffer[lead..<(lead + length)]) == naiveMask(data, key: key, offset: offset), "length \(length) lead \(lead)")
                #expect(buffer[..<lead].allSatisfy { $0 == 0xEE } && buffer.suffix(2) == [0xEE, 0xEE], "wrote outside the chunk")
                #expect(next == (offset + length) % 4)
            }
        }
    }

    @Test("chunked application with the returned offset equals one pass", arguments: 0..<4)
    func chunked(offset: Int) {
        var rng = SeededGenerator(seed: 0xC0FFEE &+ UInt64(offset))
        for length in 0...100 {
            let key = UInt32.random(in: 0...UInt32.max, using: &rng)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var buffer = data
            var position = 0
            var phase = offset
            buffer.withUnsafeMutableBytes { raw in
                while position < length {
                    let n = min(Int.random(in: 0...11, using: &rng), length - position)
                    phase = Masking.apply(key: key, offset: phase, to: UnsafeMutableRawBufferPointer(rebasing: raw[position..<(position + n)]))
                    position += n
                }
            }
            #expect(buffer == naiveMask(data, key: key, offset: offset), "length \(length)")
            #expect(phase == (offset + length) % 4)
        }
    }

    @Test("masking twice is the identity")
    func involution() {
        var rng = SeededGenerator(seed: 42)
        let data = (0..<257).map { _ in UInt8.random(in: 0...255, using: &rng) }
        var buffer = data
        _ = buffer.withUnsafeMutableBytes { Masking.apply(key: 0xDEAD_BEEF, offset: 0, to: $0) }
        #expect(buffer != data)
        _ = buffer.withUnsafeMutableBytes { Masking.apply(key: 0xDEAD_BEEF, offset: 0, to: $0) }
        #expect(buffer == data)
    }
}
