/// A connection's receive buffer: bytes between `start` and `end` are unread.
/// One allocation per connection; compaction moves a partial frame or head to the front.
struct ReadBuffer {
    private let storage: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0

    init(capacity: Int) {
        storage = .allocate(byteCount: capacity, alignment: 16)
    }

    func deallocate() { storage.deallocate() }

    var unread: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: storage[start..<end]) }

    var isEmpty: Bool { start == end }

    mutating func consume(_ n: Int) {
        start += n
        if start == end { start = 0; end = 0 }
    }

    /// Reads once from `socket` into the free space (compacting first if the tail is full).
    /// Returns the bytes read; 0 when the peer closed.
    mutating func fill(from socket: Socket) throws(Errno) -> Int {
        if end == storage.count && start > 0 {
            let unreadCount = end - start
            storage.baseAddress!.copyMemory(from: storage.baseAddress! + start, byteCount: unreadCount)
            start = 0
            end = unreadCount
        }
        guard end < storage.count else { return -1 }
        let n = try socket.read(into: UnsafeMutableRawBufferPointer(rebasing: storage[end...]))
        end += n
        return n
    }

    /// True when no byte more fits (a request head larger than the buffer).
    var isFull: Bool { start == 0 && end == storage.count }
}
