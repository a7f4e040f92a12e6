#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Lantern

/// Values past 2^31 and 2^32, where a 32-bit `Int` (ARMv7, ARMv6) traps. They run on the 64-bit
/// host too: `Int.max` there, and `Int32.max` (what `Int.max` is on 32-bit ARM) as a limit,
/// stand in for the 32-bit case; each would have trapped or overflowed before its fix.
@Suite("32-bit: values past 2^31")
struct WideValueTests {
    /// `Int.max` of a 32-bit build.
    static let int32Max = Int(Int32.max)

    /// Wire lengths of 2^31, 2^32 + 5 and 2^63 - 1 (RFC 6455 §5.2's 63-bit form), masked.
    static let wideLengths: [UInt64] = [1 << 31, (1 << 32) + 5, UInt64(Int64.max)]

    /// A masked client header announcing `length` in the 64-bit form.
    static func header(_ opcode: UInt8, length: UInt64, fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | opcode, 0xFF]
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        return bytes + [0x37, 0xFA, 0x21, 0x3D]
    }

    @Test("a 64-bit length parses as given, then fails the message with 1009 before any payload",
          arguments: wideLengths, [1 << 30, int32Max, Int.max])
    func wideLengthIsTooBig(length: UInt64, limit: Int) throws {
        let parsed = try #require(try parseHeader(Self.header(0x2, length: length), rules: FrameRules()))
        #expect(parsed.0.payloadLength == length)
        #expect(parsed.1 == 14)
        var assembler = MessageAssembler(maxMessageBytes: limit)
        if length > UInt64(limit) {
            #expect(throws: ProtocolError.messageTooBig) { try assembler.frameStart(parsed.0) }
            #expect(ProtocolError.messageTooBig.closeCode == .messageTooBig)
            #expect(ProtocolError.messageTooBig.closeCode.rawValue == 1009)
        } else {
            try assembler.frameStart(parsed.0)  // a 64-bit Int.max limit admits every one of them
        }
        #expect(assembler.message.capacity < 1 << 20, "nothing reserved for a declared length")
    }

    @Test("compressed (deflate slack added, saturating) and continuation frames too", arguments: wideLengths)
    func wideLengthCompressedAndContinued(length: UInt64) throws {
        for limit in [1 << 30, Self.int32Max] {
            // The wire limit: the limit plus 1/64 + 1 KiB, saturated at Int.max (on 32-bit ARM,
            // 2^31 - 1 + slack saturates, so 2^31 is too big there but not here).
            let wireLimit = min(UInt64(limit) + UInt64(limit / 64 + 1024), UInt64(Int.max))
            var compressed = MessageAssembler(maxMessageBytes: limit)
            let header = FrameHeader(fin: true, reservedBits: FrameHeader.rsv1, opcode: .binary, payloadLength: length)
            if length > wireLimit {
                #expect(throws: ProtocolError.messageTooBig) { try compressed.frameStart(header) }
            } else {
                try compressed.frameStart(header)
            }
            var fragmented = MessageAssembler(maxMessageBytes: limit)
            try fragmented.frameStart(FrameHeader(fin: false, opcode: .text, payloadLength: 2))
            try [UInt8](arrayLiteral: 0x68, 0x69).withUnsafeBytes { try fragmented.payload($0, restOfFrame: 0) }
            #expect(try fragmented.frameEnd() == nil)
            #expect(throws: ProtocolError.messageTooBig) {
                try fragmented.frameStart(FrameHeader(fin: true, opcode: .continuation, payloadLength: length))
            }
        }
        // At Int.max the slack saturates instead of overflowing.
        var widest = MessageAssembler(maxMessageBytes: Int.max)
        try widest.frameStart(FrameHeader(fin: true, reservedBits: FrameHeader.rsv1, opcode: .binary, payloadLength: UInt64(Int.max)))
    }

    @Test("2^63 and more is an invalid length (1002), not a huge one")
    func msbSet() {
        for length in [UInt64(1) << 63, UInt64.max] {
            #expect(throws: ProtocolError.invalidLength) { try parseHeader(Self.header(0x2, length: length), rules: FrameRules()) }
        }
        #expect(ProtocolError.invalidLength.closeCode == .protocolError)
    }

    @Test("the decoder counts a 2^32 + 5 payload down in 64 bits", arguments: [(1 << 32) + 5, UInt64(Int64.max)] as [UInt64])
    func decoderRemaining(length: UInt64) throws {
        var decoder = FrameDecoder()
        var bytes = Self.header(0x2, length: length) + [UInt8](repeating: 0, count: 100)
        try bytes.withUnsafeMutableBytes { raw in
            let (start, used) = try #require(try decoder.next(raw))
            guard case .frameStart(let header) = start else { Issue.record("expected a frame start"); return }
            #expect(header.payloadLength == length)
            let (event, n) = try #require(try decoder.next(UnsafeMutableRawBufferPointer(rebasing: raw[used...])))
            guard case .payload(let chunk) = event else { Issue.record("expected payload"); return }
            #expect(n == 100 && chunk.count == 100)
        }
        #expect(decoder.remainingPayload == length - 100)
    }

    @Test("a message buffer grows by doubling, capped at the limit, without computing capacity * 2", arguments: [
        // (capacity, needed, limit, grown)
        (1 << 20, (1 << 20) + 1, 1 << 30, 2 << 20),
        (1 << 30, (1 << 30) + 1, (1 << 30) + (1 << 24) + 1024, (1 << 30) + (1 << 24) + 1024),  // 1 GiB + deflate slack
        ((1 << 30) + 5, (1 << 30) + 6, int32Max, int32Max),  // 2 x capacity passes 2^31
        (Int.max / 2 + 1, Int.max / 2 + 2, Int.max, Int.max),  // 2 x capacity passes Int.max here too
        (100, 150, 120, 150),
    ] as [(Int, Int, Int, Int)])
    func grownCapacity(capacity: Int, needed: Int, limit: Int, grown: Int) {
        #expect(MessageAssembler.grownCapacity(capacity, needed: needed, limit: limit) == grown)
    }

    @Test("--max-buffered-bytes near Int.max: the budget refuses instead of overflowing", arguments: [Int.max, int32Max])
    func messageBudgetNearIntMax(limit: Int) {
        let budget = MessageBudget(limitBytes: limit)
        #expect(budget.update(from: 0, to: limit - 10))
        #expect(!budget.update(from: 0, to: 100), "heldBytes + 100 passes the limit")
        #expect(!budget.update(from: 0, to: Int.max))
        #expect(budget.update(from: 0, to: 10), "exactly the limit")
        #expect(budget.update(from: 10, to: 0))
        #expect(budget.update(from: limit - 10, to: 0))
        #expect(budget.update(from: 0, to: 100))
    }

    @Test("--deflate-budget near Int.max: promises and checks do not overflow", arguments: [Int.max, int32Max])
    func deflateBudgetNearIntMax(limit: Int) throws {
        let budget = DeflateBudget(limitBytes: limit)
        let big = try #require(budget.reserve(limit - 10))
        #expect(budget.committed == limit - 10)
        #expect(!budget.canAfford(100))
        #expect(!budget.canAfford(Int.max))
        #expect(budget.reserve(100) == nil)
        #expect(budget.canAfford(10))
        big.release()
        #expect(budget.committed == 0)
        #expect(budget.canAfford(100))
    }

    @Test("Content-Length past 2^31 and 2^32 is a length, not a trap; 19 and 20 digits are 400", arguments: [
        ("2147483648", UInt64(1) << 31),
        ("4294967296", UInt64(1) << 32),
        ("4294967301", (UInt64(1) << 32) + 5),
        ("999999999999", 999_999_999_999),
        ("999999999999999999", 999_999_999_999_999_999),
        ("9223372036854775807", nil),
        ("18446744073709551616", nil),
        ("99999999999999999999", nil),
    ] as [(String, UInt64?)])
    func contentLength(value: String, expected: UInt64?) throws {
        for method in ["GET", "POST"] {
            let (head, _) = try #require(try parseHead(request(["\(method) /healthz HTTP/1.1", "Host: a", "Content-Length: \(value)"])))
            if let expected {
                #expect(try head.checkMessage() == .length(expected))
            } else {
                #expect(throws: HTTPError.badRequest("invalid Content-Length")) { _ = try head.checkMessage() }
            }
        }
    }

    @Test("a slow peer's miss count cycles below 32 and skips the same waits as an unbounded count")
    func busyPollMissCountIsBounded() {
        var poll = BusyPoll(budgetMicroseconds: 100)
        var unbounded = 0
        for wait in 0..<10_000 {
            let skips = { (n: Int) in n >= 3 && n % 16 != 0 }
            #expect(skips(poll.missed) == skips(unbounded), "wait \(wait)")
            poll.countMiss()
            unbounded += 1
            #expect(poll.missed < 32)
        }
    }

    @Test("connection ids are 64 bits: ids past 2^32 are distinct registry keys")
    func wideConnectionIDs() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let registry = Registry()
        let ids: [UInt64] = [1, (1 << 31) + 1, (1 << 32) + 1, UInt64.max]
        let handles = ids.map {
            ConnectionHandle(id: $0, socket: Socket(fd: fds[0]), deflate: nil, metrics: Metrics(), outbox: nil, sendTimeoutMs: 1_000)
        }
        for (i, handle) in handles.enumerated() { #expect(registry.add(handle) == i + 1) }
        #expect(registry.remove(handles[2]) == 3)
        #expect(Set(registry.snapshot().map(\.id)) == [1, (1 << 31) + 1, UInt64.max])
    }
}
