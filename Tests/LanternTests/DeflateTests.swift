import Testing
@testable import Lantern

private func offers(_ lines: String...) -> [ExtensionOffer] {
    ExtensionOffer.parse(lines.map { Array($0.utf8) })
}

private func negotiate(_ lines: String..., policy: DeflatePolicy = DeflatePolicy()) -> String? {
    DeflateNegotiation.negotiate(ExtensionOffer.parse(lines.map { Array($0.utf8) }), policy: policy)
        .map { String(decoding: $0.response, as: UTF8.self) }
}

@Suite("ExtensionOffer")
struct ExtensionOfferTests {
    @Test func severalLinesOffersAndQuotedValues() {
        let parsed = offers("permessage-deflate; client_max_window_bits, x-webkit-deflate-frame",
                            "permessage-deflate ;server_max_window_bits=\"10\" ; client_no_context_takeover")
        #expect(parsed.map { String(decoding: $0.name, as: UTF8.self) } == ["permessage-deflate", "x-webkit-deflate-frame", "permessage-deflate"])
        #expect(parsed[0].parameters == [.init(name: Array("client_max_window_bits".utf8), value: nil)])
        #expect(parsed[2].parameters == [
            .init(name: Array("server_max_window_bits".utf8), value: Array("10".utf8)),
            .init(name: Array("client_no_context_takeover".utf8), value: nil),
        ])
    }

    @Test(arguments: ["permessage-deflate; a=\"b", "per message", "permessage-deflate; =3", "permessage-deflate; x=\"a b\""])
    func malformedElementsAreDropped(line: String) {
        #expect(offers(line).isEmpty)
    }
}

@Suite("DeflateNegotiation")
struct DeflateNegotiationTests {
    /// Offer -> response (nil: declined), with the default policy (window 12, asks clients for 14).
    @Test(arguments: [
        ("permessage-deflate", "permessage-deflate"),
        ("permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=14"),
        ("permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10"),
        ("permessage-deflate; client_max_window_bits=15", "permessage-deflate; client_max_window_bits=14"),
        ("permessage-deflate; client_max_window_bits=8", "permessage-deflate; client_max_window_bits=8"),
        ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
        ("permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=12"),
        ("permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_max_window_bits=8"),
        ("permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover"),
        ("permessage-deflate; client_no_context_takeover", "permessage-deflate"),
        ("PerMessage-Deflate", "permessage-deflate"),
        // Declined: unknown, duplicated or bad parameters.
        ("permessage-deflate; foo", nil),
        ("permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", nil),
        ("permessage-deflate; server_max_window_bits", nil),
        ("permessage-deflate; server_max_window_bits=7", nil),
        ("permessage-deflate; server_max_window_bits=16", nil),
        ("permessage-deflate; server_max_window_bits=010", nil),
        ("permessage-deflate; client_max_window_bits=abc", nil),
        ("permessage-deflate; server_no_context_takeover=1", nil),
        ("x-webkit-deflate-frame", nil),
    ] as [(String, String?)])
    func table(offer: String, response: String?) {
        #expect(negotiate(offer) == response)
    }

    @Test func firstAcceptableOfferWins() {
        #expect(negotiate("permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11")
                == "permessage-deflate; server_max_window_bits=11")
    }

    @Test func windowBitsFollowTheAgreement() throws {
        let small = try #require(DeflateNegotiation.negotiate(offers("permessage-deflate; server_max_window_bits=8; client_max_window_bits=8"), policy: DeflatePolicy()))
        // zlib cannot deflate with an 8-bit window: 8 means "send uncompressed"; inflating needs 9.
        #expect(small.sendMaxWindowBits == 8)
        #expect(small.receiveWindowBits == 9)
        let plain = try #require(DeflateNegotiation.negotiate(offers("permessage-deflate"), policy: DeflatePolicy()))
        #expect(plain.receiveWindowBits == 15)  // the client did not allow us to limit it
        #expect(plain.sendMaxWindowBits == 12)
    }

    @Test func presetsAndPolicy() throws {
        var policy = try #require(DeflatePolicy.preset("small"))
        #expect(negotiate("permessage-deflate; client_max_window_bits", policy: policy)
                == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9")
        policy.enabled = false
        #expect(negotiate("permessage-deflate", policy: policy) == nil)
        #expect(DeflatePolicy.preset("huge") == nil)
        let max = try #require(DeflatePolicy.preset("max"))
        #expect(negotiate("permessage-deflate; client_max_window_bits", policy: max) == "permessage-deflate")
    }
}

@Suite("PerMessageDeflate")
struct PerMessageDeflateTests {
    private func pair(_ offer: String, policy: DeflatePolicy = DeflatePolicy()) throws -> (PerMessageDeflate, DeflateBudget) {
        let agreed = try #require(DeflateNegotiation.negotiate(offers(offer), policy: policy))
        let budget = DeflateBudget(limitBytes: policy.budgetBytes)
        return (PerMessageDeflate(parameters: agreed, policy: policy, budget: budget), budget)
    }

    /// RFC 7692 §7.2.3.1: "Hello" as one compressed message is f2 48 cd c9 c9 07 00.
    @Test func rfcHelloVectorInflates() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// The output cap is computed without overflow even when no cap is wanted (a limit of Int.max
    /// used to trap on the first compressed message).
    @Test func unlimitedOutputDoesNotOverflow() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], isText: true, limit: .max) == Array("Hello".utf8))
    }

    /// RFC 7692 §7.2.3.2: with context takeover the second "Hello" is f2 00 11 00 00.
    @Test func rfcContextTakeoverPair() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
        #expect(try pmd.inflate([0xF2, 0x00, 0x11, 0x00, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// An empty compressed message (no deflate data at all) is an empty message and leaves the
    /// stream alone: the next message, which refers back to the first, still inflates. (Its
    /// 00 00 FF FF tail used to open a stored block that swallowed the next message: 1007.)
    @Test func emptyCompressedMessageLeavesTheStreamAlone() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
        #expect(try pmd.inflate([], isText: true, limit: 100) == [])
        #expect(try pmd.inflate([0xF2, 0x00, 0x11, 0x00, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// RFC 7692 §7.2.3.3: "Hello" in an uncompressed (stored) block.
    @Test func rfcStoredBlock() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// RFC 7692 §7.2.3.4: a BFINAL block followed by nothing; the tail must still be accepted.
    @Test func rfcFinalBlock() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// A BFINAL block ends the deflate stream but not the context: the next message may refer
    /// back into the last one (RFC 7692 §7.2.2). §7.2.3.4's final-block "Hello", then §7.2.3.2's
    /// second "Hello", which is one back-reference 5 bytes back. (After a final block the window
    /// used to be cleared, and this failed as corrupt data.)
    @Test func contextSurvivesAFinalBlock() throws {
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate([0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
        #expect(try pmd.inflate([0xF2, 0x00, 0x11, 0x00, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
    }

    /// Empty final blocks (03 00, two bytes each) make zlib end a stream per block; a long run of
    /// them only makes the inflater loop (it used to cost seconds per megabyte), so more than
    /// `maxEmptyStreams` in one message are refused as invalid data. A few are still fine.
    @Test func aRunOfEmptyFinalBlocksIsRefused() throws {
        let hello: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        let emptyBlock: [UInt8] = [0x03, 0x00]
        let few = Array(repeating: emptyBlock, count: Decompressor.maxEmptyStreams).joined()
        let (pmd, _) = try pair("permessage-deflate")
        #expect(try pmd.inflate(Array(few) + hello, isText: true, limit: 100) == Array("Hello".utf8))
        let many = Array(repeating: emptyBlock, count: Decompressor.maxEmptyStreams + 1).joined()
        let (other, _) = try pair("permessage-deflate")
        #expect(throws: ProtocolError.compressionError) { try other.inflate(Array(many) + hello, isText: true, limit: 100) }
    }

    @Test func outputHasNoTailAndRoundTrips() throws {
        var policy = DeflatePolicy()
        policy.thresholdBytes = 0
        let (sender, _) = try pair("permessage-deflate", policy: policy)
        let (receiver, _) = try pair("permessage-deflate", policy: policy)
        for text in ["Hello", "Hello", String(repeating: "lantern ", count: 500), ""] {
            let bytes = Array(text.utf8)
            #expect(bytes.withUnsafeBytes { sender.deflate($0) })
            #expect(!sender.compressed.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]))
            #expect(try receiver.inflate(sender.compressed, isText: true, limit: 1 << 16) == bytes)
        }
    }

    @Test func capStopsABombWithoutAllocatingIt() throws {
        var policy = DeflatePolicy()
        policy.thresholdBytes = 0
        let (sender, _) = try pair("permessage-deflate", policy: policy)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        #expect(zeros.withUnsafeBytes { sender.deflate($0) })
        #expect(sender.compressed.count < 8192)  // level 1: ~4.6 KB for 1 MiB of zeros
        let (receiver, _) = try pair("permessage-deflate")
        #expect(throws: ProtocolError.messageTooBig) { try receiver.inflate(sender.compressed, isText: false, limit: 4096) }
        #expect(throws: ProtocolError.messageTooBig) { try receiver.inflate(sender.compressed, isText: false, limit: (1 << 20) - 1) }
        let (exact, _) = try pair("permessage-deflate")
        #expect(try exact.inflate(sender.compressed, isText: false, limit: 1 << 20).count == 1 << 20)
    }

    @Test func invalidUTF8AfterInflationAndCorruptData() throws {
        var policy = DeflatePolicy()
        policy.thresholdBytes = 0
        let (sender, _) = try pair("permessage-deflate", policy: policy)
        let bad: [UInt8] = [0x6F, 0x6B, 0xED, 0xA0, 0x80]
        #expect(bad.withUnsafeBytes { sender.deflate($0) })
        let (receiver, _) = try pair("permessage-deflate")
        #expect(throws: ProtocolError.invalidUTF8) { try receiver.inflate(sender.compressed, isText: true, limit: 100) }
        let (other, _) = try pair("permessage-deflate")
        #expect(throws: ProtocolError.compressionError) { try other.inflate([0xFF, 0xFF, 0xFF], isText: false, limit: 100) }
    }

    /// A connection's inflater is promised its memory when deflate is agreed (its client may send
    /// compressed at any time), allocates from that promise without being counted twice, and
    /// gives everything back when the connection's deflate state goes.
    @Test func inflaterMemoryIsPromisedOnceAndGivenBack() throws {
        let budget = DeflateBudget(limitBytes: 60_000)
        let offer = ExtensionOffer.parse([Array("permessage-deflate; client_max_window_bits".utf8)])
        let agreed = try #require(DeflateNegotiation.negotiate(offer, policy: DeflatePolicy()))
        let estimate = Decompressor.estimatedBytes(windowBits: agreed.receiveWindowBits)
        let first = try #require(budget.reserve(estimate))
        let second = try #require(budget.reserve(estimate))
        #expect(budget.reserve(estimate) == nil)  // a third promise would pass the limit
        #expect(budget.committed == 2 * estimate && budget.used == 0)
        var pmd: PerMessageDeflate? = PerMessageDeflate(parameters: agreed, policy: DeflatePolicy(), budget: budget, inflaterAccount: first)
        #expect(try pmd?.inflate([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], isText: true, limit: 100) == Array("Hello".utf8))
        #expect(budget.used > 0)
        #expect(budget.committed == 2 * estimate)  // drawn from the promise, not added to it
        pmd = nil
        #expect(budget.committed == estimate && budget.used == 0)
        second.release()
        #expect(budget.committed == 0)
    }

    @Test func memoryIsLazyFreedWithoutContextAndBudgeted() throws {
        var policy = DeflatePolicy.preset("small")!
        policy.thresholdBytes = 0
        let (pmd, budget) = try pair("permessage-deflate; client_max_window_bits", policy: policy)
        #expect(budget.used == 0)  // nothing allocated at negotiation
        let text = Array(String(repeating: "abc", count: 100).utf8)
        #expect(text.withUnsafeBytes { pmd.deflate($0) })
        #expect(budget.used == 0)  // no context kept: freed right after the message
        var tight = DeflatePolicy()
        tight.budgetBytes = 1024
        tight.thresholdBytes = 0
        let (starved, _) = try pair("permessage-deflate", policy: tight)
        #expect(!text.withUnsafeBytes { starved.deflate($0) })  // over budget: sent uncompressed
        let (kept, keptBudget) = try pair("permessage-deflate", policy: DeflatePolicy())
        #expect(text.withUnsafeBytes { kept.deflate($0) })
        #expect(keptBudget.used > 0 && keptBudget.used <= 64 << 10)  // default preset: context kept, ≤ 64 KB
    }
}

extension PerMessageDeflate {
    /// The server inflates straight from its receive buffer; tests hold arrays.
    func inflate(_ message: [UInt8], isText: Bool, limit: Int) throws(ProtocolError) -> [UInt8] {
        let result = message.withUnsafeBytes { bytes in
            Result { () throws(ProtocolError) in try inflate(bytes, isText: isText, limit: limit) }
        }
        return try result.get()
    }
}
