import CZlib

/// libFuzzer target "inflate": PerMessageDeflate on hostile compressed input, and a deflate ->
/// inflate round trip of the input, checking the zlib memory budget returns to zero.
///
/// Input layout:
///   byte 0  bits 0-2 receive window (9...15), bit 3 receive-no-context-takeover, bit 4 text,
///           bits 5-7 where the raw part is cut into two messages (eighths)
///   byte 1  round trip: bits 0-2 offer, bits 3-4 policy, bits 5-7 zlib level - 1
///   byte 2  round trip: bits 0-1 message count - 1, bit 2 compress even tiny messages
///   rest    the raw compressed bytes, and the plain text of the round trip

private let limit = 1 << 16

private let offers: [StaticString] = [
    "permessage-deflate; client_max_window_bits",
    "permessage-deflate",
    "permessage-deflate; server_no_context_takeover; client_max_window_bits",
    "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
    "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=11; client_max_window_bits=13",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let body = Array(input[3...])
    let budget = DeflateBudget(limitBytes: 32 << 20)
    hostile(body, config: input[0], budget: budget)
    check(budget.used == 0, "zlib memory left after inflating: \(budget.used)")
    roundTrip(body, config: input[1], count: Int(input[2] & 3) + 1, tiny: input[2] & 4 != 0, budget: budget)
    check(budget.used == 0, "zlib memory left after the round trip: \(budget.used)")
    return 0
}

/// Raw input through PerMessageDeflate.inflate, compared with plain zlib inflates of the same bytes.
///
/// zlib checks a back-reference against the window *plus what the current call has written*, so
/// a stream that reaches further back than its window (out of spec for the negotiated
/// client_max_window_bits) is accepted or refused depending on how the output is chunked. Two
/// references bound what PerMessageDeflate may do: `lenient` inflates each message in one call
/// (accepts the most), `strict` one output byte per call (accepts exactly what the window
/// allows). What `strict` accepts must be accepted; what `lenient` refuses must be refused.
private func hostile(_ body: [UInt8], config: UInt8, budget: DeflateBudget) {
    let window = min(9 + Int(config & 7), 15)
    let noContext = config & 0x08 != 0
    let isText = config & 0x10 != 0
    let cut = body.count * Int(config >> 5) / 8
    let parameters = DeflateParameters(
        sendNoContextTakeover: false, receiveNoContextTakeover: noContext,
        sendMaxWindowBits: 15, receiveWindowBits: window, response: [])
    let deflate = PerMessageDeflate(parameters: parameters, policy: DeflatePolicy(), budget: budget)
    let lenient = ReferenceInflater(windowBits: window, chunkBytes: limit + 1)
    let strict = ReferenceInflater(windowBits: window, chunkBytes: 1)
    defer { lenient.end(); strict.end() }
    for message in [Array(body[..<cut]), Array(body[cut...])] {
        if noContext { lenient.restart(); strict.restart() }
        let most = lenient.inflate(message, limit: limit)
        let least = strict.inflate(message, limit: limit)
        let result = inflate(deflate, message, isText: isText, limit: limit)
        switch result {
        case .success(let output):
            guard case .success(let plain) = most else {
                checkFailure("inflate accepted what zlib rejects even in one call, or what passes the limit")
            }
            check(output == plain, "inflate output differs from zlib's")
            check(output.count <= limit, "inflate output over the limit")
            if isText { check(String(validating: output, as: UTF8.self) != nil, "inflated invalid UTF-8 accepted") }
            deflate.recycle(output)
            // Out of the window: the strict reference's stream is dead, so comparisons end here.
            guard case .success = least else { return }
        case .failure(let error):
            switch least {
            case .success(let plain):
                check(isText && error == .invalidUTF8 && String(validating: plain, as: UTF8.self) == nil,
                      "inflate failed (\(error)) on data zlib inflates within the window")
            case .overLimit:
                check(error == .messageTooBig || (isText && error == .invalidUTF8), "over-limit message gave \(error)")
            case .invalid:
                break
            }
            return
        }
    }
}

/// The input, cut into messages, deflated by one side and inflated by the other.
private func roundTrip(_ body: [UInt8], config: UInt8, count: Int, tiny: Bool, budget: DeflateBudget) {
    let offer = ExtensionOffer.parse([offers[Int(config & 7)].utf8Bytes])
    var eager = DeflatePolicy()
    eager.sendMaxWindowBits = 15
    eager.memLevel = 9
    eager.sendNoContextTakeover = true
    eager.requestReceiveMaxWindowBits = nil
    var policy = [DeflatePolicy(), DeflatePolicy.preset("small")!, DeflatePolicy.preset("max")!, eager][Int(config >> 3 & 3)]
    policy.level = Int(config >> 5) + 1
    if tiny { policy.thresholdBytes = 0 }
    guard let ours = DeflateNegotiation.negotiate(offer, policy: policy) else {
        checkFailure("a literal offer was declined")
    }
    // The peer sees the same agreement mirrored: its receive side is our send side.
    let theirs = DeflateParameters(
        sendNoContextTakeover: ours.receiveNoContextTakeover, receiveNoContextTakeover: ours.sendNoContextTakeover,
        sendMaxWindowBits: ours.receiveWindowBits, receiveWindowBits: max(9, ours.sendMaxWindowBits),
        response: ours.response)
    let sender = PerMessageDeflate(parameters: ours, policy: policy, budget: budget)
    let receiver = PerMessageDeflate(parameters: theirs, policy: policy, budget: budget)
    let step = (body.count + count - 1) / max(count, 1)
    var start = 0
    for index in 0..<count {
        let end = min(body.count, start + step)
        let message = Array(body[start..<end])
        start = end
        // Empty messages included: regressions/inflate/empty-message-after-context once came out
        // as zero bytes instead of RFC 7692 §7.2.3.6's single 00.
        let compressed = message.withUnsafeBytes { sender.deflate($0) }
        if !compressed {
            check(message.count < policy.thresholdBytes || ours.sendMaxWindowBits < 9, "deflate declined a message")
            continue
        }
        let wire = sender.compressed
        let isText = String(validating: message, as: UTF8.self) != nil
        // The exact size is enough; one byte less is refused (only where no history is needed,
        // as a failed inflate drops the stream).
        if !message.isEmpty && (index == 0 || ours.sendNoContextTakeover) {
            let short = inflate(receiver, wire, isText: isText, limit: message.count - 1)
            guard case .failure(.messageTooBig) = short else { checkFailure("limit - 1 not refused: \(short)") }
        }
        let result = inflate(receiver, wire, isText: isText, limit: message.count)
        guard case .success(let plain) = result else { checkFailure("round trip failed: \(result)") }
        check(plain == message, "round trip changed the message")
        receiver.recycle(plain)
        sender.sent()
    }
}

private enum Expected { case success([UInt8]), overLimit, invalid }

/// A plain zlib raw inflater with the semantics PerMessageDeflate promises: the message plus
/// 00 00 FF FF, a final block starting a fresh stream, output capped at `limit`, and an empty
/// message read as empty without touching the stream.
private final class ReferenceInflater {
    private var stream = z_stream()
    private let windowBits: Int
    /// Output space per inflate call (see `hostile`).
    private let chunkBytes: Int
    private var live = false

    init(windowBits: Int, chunkBytes: Int) {
        self.windowBits = windowBits
        self.chunkBytes = chunkBytes
        restart()
    }

    func restart() {
        end()
        check(lantern_inflateInit2(&stream, -Int32(windowBits)) == Z_OK, "inflateInit2")
        live = true
    }

    func end() {
        if live { inflateEnd(&stream) }
        live = false
    }

    func inflate(_ message: [UInt8], limit: Int) -> Expected {
        if message.isEmpty { return .success([]) }
        var input = message + [0x00, 0x00, 0xFF, 0xFF]
        var output: [UInt8] = []
        var streamStart = 0
        var emptyStreams = 0
        var chunk = [UInt8](repeating: 0, count: chunkBytes)
        return input.withUnsafeMutableBytes { inBuf -> Expected in
            stream.next_in = inBuf.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(inBuf.count)
            while true {
                let (status, produced) = chunk.withUnsafeMutableBytes { out -> (Int32, Int) in
                    stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(out.count)
                    let r = CZlib.inflate(&stream, Z_SYNC_FLUSH)
                    return (r, out.count - Int(stream.avail_out))
                }
                output += chunk[..<produced]
                if output.count > limit { restart(); return .overLimit }
                switch status {
                case Z_OK, Z_BUF_ERROR: break
                case Z_STREAM_END:
                    // More than a few streams that end without output are refused; the window
                    // carries over into the next stream (RFC 7692 §7.2.2), written out here with
                    // zlib's documented calls.
                    if output.count == streamStart {
                        emptyStreams += 1
                        if emptyStreams > Decompressor.maxEmptyStreams { restart(); return .invalid }
                    }
                    streamStart = output.count
                    var window = [UInt8](repeating: 0, count: 1 << windowBits)
                    var length: uInt = 0
                    _ = inflateGetDictionary(&stream, &window, &length)
                    inflateReset(&stream)
                    if length > 0 { _ = inflateSetDictionary(&stream, window, length) }
                default: restart(); return .invalid
                }
                if stream.avail_in == 0 && stream.avail_out > 0 { return .success(output) }
                if status == Z_BUF_ERROR && produced == 0 { restart(); return .invalid }
            }
        }
    }
}

private func inflate(_ receiver: PerMessageDeflate, _ wire: [UInt8], isText: Bool, limit: Int) -> Result<[UInt8], ProtocolError> {
    wire.withUnsafeBytes { bytes in Result { () throws(ProtocolError) in try receiver.inflate(bytes, isText: isText, limit: limit) } }
}
