import CZlib
import Glibc

/// `lantern-bench zlib`: what the system zlib costs per message at the window / memLevel pairs
/// of Lantern's presets and of peers, on the payloads the deflate row sends. No server: this
/// isolates the one part of that row Lantern does not write itself (README, Performance).
enum ZlibCost {
    struct Setting {
        let windowBits: Int32
        let memLevel: Int32
        /// false: the compressor is reset after every message (no context takeover).
        let keepsContext: Bool
    }

    /// Lantern's default (12/4) and its neighbours up to zlib's largest state (15/8, what
    /// libwebsockets and node `ws` use), plus the default without context.
    static let settings = [
        Setting(windowBits: 12, memLevel: 4, keepsContext: true),
        Setting(windowBits: 13, memLevel: 4, keepsContext: true),
        Setting(windowBits: 14, memLevel: 4, keepsContext: true),
        Setting(windowBits: 15, memLevel: 4, keepsContext: true),
        Setting(windowBits: 15, memLevel: 8, keepsContext: true),
        Setting(windowBits: 12, memLevel: 4, keepsContext: false),
    ]

    static func run(_ options: BenchOptions) -> Int32 {
        guard options.size > 0 else { writeLine("lantern-bench: zlib needs --size of at least 1", to: 2); return 2 }
        let pool = Payloads(size: options.size, count: options.pool, binary: options.binary)
        writeLine("zlib level \(options.deflateLevel), \(pool.size)-byte \(options.binary ? "binary" : "JSON") messages "
            + "(\(pool.count) distinct), one Z_SYNC_FLUSH per message, \(format(options.duration, 1)) s per setting")
        writeLine("window/memLevel  context  us/msg  bytes/msg")
        for setting in settings {
            guard let (micros, bytes) = measure(setting, pool: pool, level: options.deflateLevel, seconds: options.duration) else {
                writeLine("lantern-bench: zlib failed or round trip differs at \(setting.windowBits)/\(setting.memLevel)", to: 2)
                return 1
            }
            let label = "\(setting.windowBits)/\(setting.memLevel)"
            writeLine(label.padding(17) + (setting.keepsContext ? "kept" : "reset").padding(9)
                + format(micros, 2).padding(8) + format(bytes, 0))
        }
        return 0
    }

    /// Microseconds and compressed bytes per message; nil when zlib fails or the first pass over
    /// the pool does not inflate back to the payloads (checked untimed, before the timed loop).
    private static func measure(_ setting: Setting, pool: Payloads, level: Int32, seconds: Double) -> (Double, Double)? {
        var deflater = z_stream()
        var inflater = z_stream()
        guard lantern_deflateInit2(&deflater, level, -setting.windowBits, setting.memLevel) == Z_OK else { return nil }
        defer { deflateEnd(&deflater) }
        guard lantern_inflateInit2(&inflater, -setting.windowBits) == Z_OK else { return nil }
        defer { inflateEnd(&inflater) }
        let room = Int(deflateBound(&deflater, uLong(pool.size))) + 64
        var compressed = [UInt8](repeating: 0, count: room)
        var inflated = [UInt8](repeating: 0, count: pool.size + 64)

        func compress(_ i: Int) -> Int? {
            let input = pool.payload(i)
            return compressed.withUnsafeMutableBytes { out -> Int? in
                deflater.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                deflater.avail_in = uInt(input.count)
                deflater.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                deflater.avail_out = uInt(room)
                guard deflate(&deflater, Z_SYNC_FLUSH) == Z_OK, deflater.avail_in == 0 else { return nil }
                if !setting.keepsContext { deflateReset(&deflater) }
                return room - Int(deflater.avail_out)
            }
        }

        for i in 0..<pool.count {
            guard let n = compress(i) else { return nil }
            let produced = compressed.withUnsafeMutableBytes { input in
                inflated.withUnsafeMutableBytes { out -> Int? in
                    inflater.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    inflater.avail_in = uInt(n)
                    inflater.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    inflater.avail_out = uInt(out.count)
                    let status = inflate(&inflater, Z_SYNC_FLUSH)
                    guard status == Z_OK || status == Z_BUF_ERROR, inflater.avail_in == 0 else { return nil }
                    return out.count - Int(inflater.avail_out)
                }
            }
            guard produced == pool.size, inflated.prefix(pool.size).elementsEqual(pool.payload(i)) else { return nil }
        }

        var messages = 0
        var bytes = 0
        let start = nowNanos()
        let end = start + UInt64(seconds * 1e9)
        var now = start
        while now < end {
            for i in 0..<pool.count {
                guard let n = compress(i) else { return nil }
                bytes += n
            }
            messages += pool.count
            now = nowNanos()
        }
        return (Double(now - start) / 1e3 / Double(messages), Double(bytes) / Double(messages))
    }
}

private extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
