import CZlib

/// A raw-deflate compressor producing permessage-deflate payloads (RFC 7692 §7.2.1).
final class Compressor {
    private var stream = z_stream()
    private let ok: Bool
    /// zlib calls back into it until deflateEnd, so it must outlive the stream.
    private let account: DeflateBudget.Account

    /// zlib's own bound for one stream's memory, to ask the budget before allocating.
    static func estimatedBytes(windowBits: Int, memLevel: Int) -> Int {
        (1 << (windowBits + 2)) + (1 << (memLevel + 9)) + 6 << 10
    }

    init?(windowBits: Int, memLevel: Int, level: Int, budget: DeflateBudget) {
        account = DeflateBudget.Account(budget: budget)
        account.attach(to: &stream)
        // Negative window bits: raw deflate, no zlib header or trailer (§7.2.1).
        ok = lantern_deflateInit2(&stream, Int32(level), -Int32(windowBits), Int32(memLevel)) == Z_OK
        if !ok { return nil }
    }

    deinit { if ok { deflateEnd(&stream) } }

    /// Compresses a whole message; the result lacks the trailing 00 00 FF FF (§7.2.1 step 2).
    func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) -> Bool {
        output.removeAll(keepingCapacity: true)
        var produced = 0
        // zlib counts in 32 bits (uInt) and sizes in `unsigned long` (32 bits on ARMv7, where a
        // bound past 2^31 does not fit an Int): what does not fit is sent uncompressed, and the
        // buffer grows without overflowing. Messages are at most 1 GiB (--max-message-bytes).
        guard let available = uInt(exactly: input.count) else { return false }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = available
        guard let bound = Int(exactly: deflateBound(&stream, uLong(available))), bound <= Int.max - 16 else { return false }
        var capacity = bound + 16
        while true {
            if output.count < capacity { output.append(contentsOf: repeatElement(0, count: capacity - output.count)) }
            let status = output.withUnsafeMutableBytes { out -> Int32 in
                // `room` <= Int.max, so what deflate writes into it always fits an Int.
                let room = uInt(clamping: out.count - produced)
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                stream.avail_out = room
                let r = deflate(&stream, Z_SYNC_FLUSH)
                produced += Int(room - stream.avail_out)
                return r
            }
            if status != Z_OK && status != Z_BUF_ERROR { return false }
            // Done once all input is consumed and the flush fit (room left over).
            if stream.avail_in == 0 && stream.avail_out > 0 { break }
            // More room: what zlib's count left of the buffer first, else double it.
            if stream.avail_out == 0 && produced < output.count { continue }
            guard capacity <= Int.max / 2 else { return false }
            capacity *= 2
        }
        output.removeLast(output.count - produced)
        // RFC 7692 §7.2.3.6: an empty message compresses to one 0x00 byte. After a flush, zlib
        // may produce nothing at all for it; an empty RSV1 payload would make the peer read its
        // 00 00 FF FF tail as the start of a stored block and lose sync.
        if output.isEmpty {
            output.append(0x00)
            return true
        }
        if output.count >= 4 && output[output.count - 4] == 0 && output[output.count - 3] == 0
            && output[output.count - 2] == 0xFF && output[output.count - 1] == 0xFF {
            output.removeLast(4)
        }
        return true
    }

    func reset() { deflateReset(&stream) }
}
