/// The messages a run sends: `count` distinct payloads of exactly `size` bytes, rotated per
/// connection. Text is JSON-like chat traffic (what permessage-deflate is for), binary is random.
struct Payloads {
    /// One contiguous block: payload `i` starts at `i * size`.
    let storage: UnsafeMutableRawPointer
    let size: Int
    let count: Int

    init(size: Int, count: Int, binary: Bool, seed: UInt64 = 0x5EED_1A27_E2B0_0C11) {
        // Keep the whole pool under 256 MB even for very large messages.
        let count = max(1, min(count, size > 0 ? (256 << 20) / size : count))
        self.size = size
        self.count = count
        storage = UnsafeMutableRawPointer.allocate(byteCount: max(1, size * count), alignment: 16)
        var random = FastRandom(seed: seed)
        for i in 0..<count {
            let bytes: [UInt8]
            if binary {
                bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = Payloads.chat(size: size, variant: i, random: &random)
            }
            precondition(bytes.count == size)
            bytes.withUnsafeBytes { (storage + i * size).copyMemory(from: $0.baseAddress!, byteCount: size) }
        }
    }

    /// Payload `i` (any integer; wraps around the pool).
    @inline(__always)
    func payload(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + (i % count) * size, count: size)
    }

    private static let vocabulary: [String] = """
        ok sure thanks hi hello morning later tonight tomorrow today meeting standup review merge branch \
        release build failed passed green red flaky test deploy staging prod rollback incident alert \
        pager latency spike cpu memory disk full log rotate restart service router firmware update \
        wifi channel signal weak strong cable switch port vlan dns dhcp lease address gateway proxy \
        cache hit miss ticket assigned closed reopened backlog sprint demo slides coffee lunch pizza \
        weekend holiday train late early soon now yes no maybe agreed works for me can you check \
        please ship it looks good to nice work team all the a an of in on at with from what when why
        """.split(separator: " ").map(String.init)
    private static let people = ["ana", "ben", "chloe", "dmitri", "eve", "farid", "gwen", "hiro",
                                 "iris", "jon", "kemal", "lena", "mo", "nadia", "oskar", "priya"]

    /// Words separated by spaces, exactly `count` bytes (printable ASCII, nothing to escape).
    private static func words(_ count: Int, random: inout FastRandom) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        while out.count < count {
            if !out.isEmpty { out.append(0x20) }
            out += vocabulary[Int(random.next() % UInt64(vocabulary.count))].utf8
        }
        out.removeLast(out.count - count)
        if out.last == 0x20 { out[out.count - 1] = 0x2E }
        return out
    }

    /// A chat message (short sizes) or a batch of them, exactly `size` bytes of valid JSON (from 24 bytes up).
    private static func chat(size: Int, variant: Int, random: inout FastRandom) -> [UInt8] {
        if size < 24 { return words(size, random: &random) }
        if size < 160 {
            let head = Array("{\"from\":\"\(people[variant % people.count])\",\"text\":\"".utf8)
            let prefix = head.count + 2 <= size ? head : Array("{\"t\":\"".utf8)
            return prefix + words(size - prefix.count - 2, random: &random) + Array("\"}".utf8)
        }
        var out = Array("{\"kind\":\"history\",\"channel\":\"ops\",\"items\":[".utf8)
        let closing = Array("]}".utf8)
        var id = variant * 1000
        var stamp = 1_760_000_000 + variant * 3571
        while true {
            let head = Array("\(id == variant * 1000 ? "" : ","){\"id\":\(id),\"from\":\"\(people[Int(random.next() % 16)])\",\"at\":\(stamp),\"text\":\"".utf8)
            let room = size - out.count - closing.count
            if room < head.count + 2 + 8 {          // no room for another item: JSON whitespace
                out += [UInt8](repeating: 0x20, count: room)
                break
            }
            var length = 12 + Int(random.next() % 150)
            if head.count + length + 2 > room || room - (head.count + length + 2) < 180 {
                length = room - head.count - 2       // the last item fills the message exactly
            }
            out += head + words(length, random: &random) + Array("\"}".utf8)
            id += 1
            stamp += 5 + Int(random.next() % 90)
            if out.count + closing.count == size { break }
        }
        return out + closing
    }
}
