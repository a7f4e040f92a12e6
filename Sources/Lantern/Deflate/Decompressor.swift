import CZlib

/// A raw-inflate decompressor for permessage-deflate payloads (RFC 7692 §7.2.2),
/// with the output capped while it runs so a small bomb cannot allocate much.
final class Decompressor {
    private var stream = z_stream()
    private let ok: Bool
    /// zlib calls back into it until inflateEnd, so it must outlive the stream.
    private let account: DeflateBudget.Account
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// zlib's own figure for an inflater: its window plus ~7 KB of state (rounded up).
    static func estimatedBytes(windowBits: Int) -> Int { (1 << windowBits) + 8 << 10 }

    init?(windowBits: Int, account: DeflateBudget.Account) {
        self.account = account
        account.attach(to: &stream)
        ok = lantern_inflateInit2(&stream, -Int32(windowBits)) == Z_OK
        if !ok { return nil }
    }

    deinit { if ok { inflateEnd(&stream) } }

    /// Deflate streams that end without producing a byte, allowed per message. An encoder ends
    /// at most one stream per flush; a run of empty final blocks (2 bytes each) is only a way to
    /// make the inflater loop, and is refused as invalid data.
    static let maxEmptyStreams = 8

    /// Progress through one message, across its payload and the appended tail.
    private struct Progress {
        /// Bytes of `output` that hold inflated data; the rest is zero-filled spare room.
        var filled = 0
        var streamOutput = 0
        var emptyStreams = 0
    }

    /// Inflates a whole message (its 00 00 FF FF tail re-appended, §7.2.2) into `output`,
    /// passing each produced chunk to `inspect` (UTF-8 validation as it goes).
    /// Throws `.messageTooBig` as soon as the output would pass `limit`.
    func decompress(
        _ input: UnsafeRawBufferPointer, limit: Int, into output: inout [UInt8],
        inspect: (UnsafeRawBufferPointer) -> Bool
    ) throws(ProtocolError) {
        output.removeAll(keepingCapacity: true)
        // An empty compressed message holds no deflate data (a conforming sender writes the one
        // byte 00, RFC 7692 §7.2.3.6). Its 00 00 FF FF tail alone would open a stored block
        // whose length zlib then takes from the *next* message, failing that valid one; so it
        // is read as the only thing it can mean, an empty message, and the stream is left as is.
        guard input.count > 0 else { return }
        var progress = Progress()
        try feed(input, limit: limit, into: &output, &progress, inspect: inspect)
        try Decompressor.tail.withUnsafeBytes { t in
            Result { () throws(ProtocolError) in try feed(t, limit: limit, into: &output, &progress, inspect: inspect) }
        }.get()
        output.removeLast(output.count - progress.filled)
    }

    private func feed(
        _ input: UnsafeRawBufferPointer, limit: Int, into output: inout [UInt8], _ progress: inout Progress,
        inspect: (UnsafeRawBufferPointer) -> Bool
    ) throws(ProtocolError) {
        // zlib counts input in 32 bits. A message is at most 1 GiB plus deflate's slack
        // (--max-message-bytes), so this refuses only what the limit would have refused anyway.
        guard let available = uInt(exactly: input.count) else { throw .messageTooBig }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = available
        while true {
            let start = progress.filled
            if output.count == start {
                // Grow geometrically from a guess of 4x the input (text often inflates 3-5x), in
                // steps bounded by what the limit still allows (+1 byte to detect overflow). Only
                // when the room is used up: zero-filling a step per call made a long run of
                // output-less blocks cost its length squared.
                // (guess - 1 and limit - start cannot overflow; limit + 1 could, at Int.max. Nor
                // can the guess: 4 x a message of 512 MiB or more passed Int.max on 32-bit ARM.)
                let guess = input.count > Int.max / 4 ? Int.max : 4 * input.count
                let room = min(max(guess, 1024, start) - 1, limit - start) + 1
                output.append(contentsOf: repeatElement(0, count: room))
            }
            // At most what zlib's 32-bit count takes; the rest of the room is used next round.
            // (`space` <= Int.max, so what inflate writes into it always fits an Int.)
            let space = uInt(clamping: output.count - start)
            let (status, produced) = output.withUnsafeMutableBytes { out -> (Int32, Int) in
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + start
                stream.avail_out = space
                let r = inflate(&stream, Z_SYNC_FLUSH)
                return (r, Int(space - stream.avail_out))
            }
            progress.filled += produced
            if progress.filled > limit { throw .messageTooBig }
            if produced > 0 {
                progress.streamOutput += produced
                let valid = output.withUnsafeBytes { inspect(UnsafeRawBufferPointer(rebasing: $0[start..<(start + produced)])) }
                if !valid { throw .invalidUTF8 }
            }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                if progress.streamOutput == 0 {
                    progress.emptyStreams += 1
                    if progress.emptyStreams > Decompressor.maxEmptyStreams { throw .compressionError }
                }
                progress.streamOutput = 0
                // A final block ends the deflate stream; later data starts a new one, which may
                // still refer back to everything inflated before (RFC 7692 §7.2.2: each message
                // is inflated "using the LZ77 sliding window used to process the last compressed
                // message"; §7.2.3.4 allows a BFINAL block as a message's flush). zlib's
                // inflateResetKeep is inflateReset without clearing the window (exported since
                // zlib 1.2.5.2, listed among its undocumented functions).
                inflateResetKeep(&stream)
            default:
                throw .compressionError
            }
            if stream.avail_in == 0 && stream.avail_out > 0 { return }
            if status == Z_BUF_ERROR && produced == 0 && stream.avail_in > 0 { throw .compressionError }
        }
    }

    func reset() { inflateReset(&stream) }
}
