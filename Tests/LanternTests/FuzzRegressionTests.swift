import Testing
@testable import Lantern

/// Inputs the fuzzers (tools/fuzz) found crashing, kept as unit tests.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// regressions/frame/wirelimit-overflow-compressed-intmax: a compressed first frame with
    /// `maxMessageBytes` near Int.max overflowed the wire-limit sum.
    @Test func compressedFrameWithHugeLimitDoesNotOverflow() throws {
        var assembler = MessageAssembler(maxMessageBytes: Int.max)
        let header = FrameHeader(fin: true, reservedBits: FrameHeader.rsv1, opcode: .text, maskKey: 1, payloadLength: 1 << 62)
        try assembler.frameStart(header)
        var small = MessageAssembler(maxMessageBytes: 1000)
        let tooBig = FrameHeader(fin: true, reservedBits: FrameHeader.rsv1, opcode: .binary, maskKey: 1, payloadLength: UInt64(Int.max))
        #expect(throws: ProtocolError.messageTooBig) { try small.frameStart(tooBig) }
    }

    /// regressions/inflate/empty-message-after-context: with context takeover, an empty message
    /// after another one must still compress to RFC 7692 §7.2.3.6's single 00 and round-trip.
    @Test func emptyMessagesAfterContextRoundTrip() throws {
        let offer = ExtensionOffer.parse([Array("permessage-deflate; client_max_window_bits".utf8)])
        var policy = DeflatePolicy()
        policy.thresholdBytes = 0
        let ours = try #require(DeflateNegotiation.negotiate(offer, policy: policy))
        var theirs = ours
        theirs.receiveWindowBits = max(9, ours.sendMaxWindowBits)
        let budget = DeflateBudget(limitBytes: 1 << 24)
        let sender = PerMessageDeflate(parameters: ours, policy: policy, budget: budget)
        let receiver = PerMessageDeflate(parameters: theirs, policy: policy, budget: budget)
        for message in [[UInt8(0xCD)], [], [], Array("after".utf8), []] {
            #expect(message.withUnsafeBytes { sender.deflate($0) })
            if message.isEmpty { #expect(sender.compressed == [0x00]) }
            let inflated = try receiver.inflate(sender.compressed, isText: false, limit: 1 << 16)
            #expect(inflated == message)
        }
    }
}
