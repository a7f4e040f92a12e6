import Glibc

/// A growable byte buffer with a read position: bytes live in `[start, end)`.
/// A class so that connections can hand it around without copies; never shared across threads.
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    var start = 0
    var end = 0

    init(capacity: Int = 4096) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var count: Int { end - start }
    var isEmpty: Bool { start == end }
    var readable: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base + start, count: end - start) }

    func clear() { start = 0; end = 0 }

    func consume(_ n: Int) {
        start += n
        if start == end { start = 0; end = 0 }
    }

    /// Makes room for `n` more bytes after `end` (moving the bytes down or growing); returns where to write.
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutableRawPointer {
        if capacity - end >= n { return base + end }
        if start > 0 {
            if count > 0 { memmove(base, base + start, count) }
            end -= start
            start = 0
            if capacity - end >= n { return base + end }
        }
        var newCapacity = capacity
        while newCapacity - end < n { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: base, byteCount: end)
        base.deallocate()
        base = grown
        capacity = newCapacity
        return base + end
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        end += bytes.count
    }

    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { append($0) } }
}
