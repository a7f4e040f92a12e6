import CZlib

/// The client side of permessage-deflate (RFC 7692) as the server's response set it up.
struct DeflateParameters {
    /// `client_max_window_bits` the server asked for (15 when it named none).
    var sendWindowBits = 15
    /// `client_no_context_takeover`: reset our compressor after every message.
    var sendNoContextTakeover = false
    /// `server_no_context_takeover`: the server resets, so reset our inflater after every message.
    var receiveNoContextTakeover = false
}

/// One connection's zlib streams, created on first use.
final class ClientDeflate {
    let parameters: DeflateParameters
    private var deflater = z_stream()
    private var inflater = z_stream()
    private var deflaterReady = false
    private var inflaterReady = false
    private let level: Int32

    /// zlib cannot write a raw deflate stream with a 256-byte window (it silently uses 512), so a
    /// negotiated `client_max_window_bits=8` means sending uncompressed (allowed per message, §6).
    var canCompress: Bool { parameters.sendWindowBits >= 9 }

    init(_ parameters: DeflateParameters, level: Int32) {
        self.parameters = parameters
        self.level = level
    }

    deinit {
        if deflaterReady { deflateEnd(&deflater) }
        if inflaterReady { inflateEnd(&inflater) }
    }

    /// Compresses one message into `output` (cleared first), without the 00 00 FF FF tail (§7.2.1).
    func compress(_ input: UnsafeRawBufferPointer, into output: ByteBuffer) -> Bool {
        if !deflaterReady {
            guard lantern_deflateInit2(&deflater, level, -Int32(parameters.sendWindowBits), 8) == Z_OK else { return false }
            deflaterReady = true
        }
        output.clear()
        deflater.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        deflater.avail_in = uInt(input.count)
        var room = Int(deflateBound(&deflater, uLong(input.count))) + 64
        while true {
            let out = output.reserve(room)
            deflater.next_out = out.assumingMemoryBound(to: Bytef.self)
            deflater.avail_out = uInt(room)
            let status = deflate(&deflater, Z_SYNC_FLUSH)
            output.end += room - Int(deflater.avail_out)
            if status != Z_OK && status != Z_BUF_ERROR { return false }
            if deflater.avail_in == 0 && deflater.avail_out > 0 { break }
            room *= 2
        }
        if output.count >= 4 && output.readable.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]) { output.end -= 4 }
        if parameters.sendNoContextTakeover { deflateReset(&deflater) }
        return true
    }

    /// Inflates one whole compressed message into `output` (cleared first), at most `limit` bytes.
    func decompress(_ input: UnsafeRawBufferPointer, into output: ByteBuffer, limit: Int) -> Bool {
        if !inflaterReady {
            // 15 bits accept whatever window the server compresses with.
            guard lantern_inflateInit2(&inflater, -15) == Z_OK else { return false }
            inflaterReady = true
        }
        output.clear()
        var ended = false
        guard feed(input, into: output, limit: limit, ended: &ended) else { return false }
        // §7.2.2: the sender removed 00 00 FF FF; give it back unless the message ended the stream.
        if !ended {
            guard ClientDeflate.tail.withUnsafeBytes({ feed($0, into: output, limit: limit, ended: &ended) }) else { return false }
        }
        if ended || parameters.receiveNoContextTakeover { inflateReset(&inflater) }
        return true
    }

    private static let tail: [UInt8] = [0, 0, 0xFF, 0xFF]

    private func feed(_ input: UnsafeRawBufferPointer, into output: ByteBuffer, limit: Int, ended: inout Bool) -> Bool {
        inflater.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        inflater.avail_in = uInt(input.count)
        while true {
            let room = max(16384, output.count)
            inflater.next_out = output.reserve(room).assumingMemoryBound(to: Bytef.self)
            inflater.avail_out = uInt(room)
            let status = inflate(&inflater, Z_SYNC_FLUSH)
            output.end += room - Int(inflater.avail_out)
            if status == Z_STREAM_END { ended = true; return true }   // a final block ends the context
            if status == Z_BUF_ERROR && inflater.avail_in == 0 { return true }
            if status == Z_BUF_ERROR && inflater.avail_out > 0 { return false }      // no progress possible
            if status != Z_OK && status != Z_BUF_ERROR { return false }
            if output.count > limit { return false }
            if inflater.avail_in == 0 && inflater.avail_out > 0 { return true }
        }
    }
}
