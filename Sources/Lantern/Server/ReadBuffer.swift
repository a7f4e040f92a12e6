/// A connection's receive buffer: bytes between `start` and `end` are unread.
/// It starts small (an idle connection is mostly this buffer and its thread's stack) and grows
/// on demand: to hold a long request head, or to take a big frame in few large reads.
struct ReadBuffer {
    private var storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// Largest size `fill` grows to on its own (a request head must fit whole).
    private let growLimit: Int

    init(capacity: Int, growLimit: Int) {
        storage = .allocate(byteCount: capacity, alignment: 16)
        self.growLimit = max(capacity, growLimit)
    }

    func deallocate() { storage.deallocate() }

    var unread: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[start..<end]) }

    var isEmpty: Bool { start == end }

    var capacity: Int { storage.count }

    mutating func consume(_ n: Int) {
        start += n
        if start == end { start = 0; end = 0 }
    }

    /// Grows the buffer to at least `bytes`, keeping the unread bytes.
    mutating func reserve(_ bytes: Int) {
        guard bytes > storage.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 16)
        let unreadCount = end - start
        if unreadCount > 0 { grown.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: unreadCount) }
        storage.deallocate()
        storage = grown
        start = 0
        end = unreadCount
    }

    /// Reads once from `socket` into the free space, first compacting a full tail or, when the
    /// unread bytes fill the whole buffer, doubling it (up to the grow limit).
    /// Returns the bytes read; 0 when the peer closed, -1 when full at the limit.
    mutating func fill(from socket: Socket, wait: Bool = true) throws(Errno) -> Int {
        if end == storage.count {
            if start > 0 {
                let unreadCount = end - start
                storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: unreadCount)
                start = 0
                end = unreadCount
            } else if storage.count < growLimit {
                // Doubled up to the limit without computing `count * 2`, which can pass Int.max
                // on 32-bit ARM (--max-header-bytes has no upper bound).
                reserve(storage.count + min(storage.count, growLimit - storage.count))
            }
        }
        guard end < storage.count else { return -1 }
        let n = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]), wait: wait)
        end += n
        return n
    }
}
