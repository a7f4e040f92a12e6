import Glibc

/// epoll through the C library's own symbols.
/// Swift's Glibc module leaves out <sys/epoll.h> (its `struct epoll_event` is packed), and this
/// tool may not add a C target, so the three calls are looked up once with `dlsym` and the event
/// array is laid out by hand: 12 bytes per event, `events` at offset 0, `data` at offset 4 (x86_64;
/// on other architectures the struct is not packed and `data` sits at offset 8).
struct Epoll {
    static let input: UInt32 = 0x001      // EPOLLIN
    static let output: UInt32 = 0x004     // EPOLLOUT
    static let error: UInt32 = 0x008      // EPOLLERR
    static let hangUp: UInt32 = 0x010     // EPOLLHUP
    private static let add: Int32 = 1, delete: Int32 = 2, modify: Int32 = 3
    private static let closeOnExec: Int32 = 0o2000000

    #if arch(x86_64)
    static let eventStride = 12, dataOffset = 4
    #else
    static let eventStride = 16, dataOffset = 8
    #endif

    private typealias Create = @convention(c) (Int32) -> Int32
    private typealias Control = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    private typealias Wait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32

    private struct Calls {
        let create: Create, control: Control, wait: Wait
    }
    private static let calls: Calls = {
        func symbol<T>(_ name: String, _ type: T.Type) -> T {
            guard let p = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
                writeLine("lantern-bench: \(name) not found\n", to: 2)
                exit(1)
            }
            return unsafeBitCast(p, to: type)
        }
        return Calls(create: symbol("epoll_create1", Create.self),
                     control: symbol("epoll_ctl", Control.self),
                     wait: symbol("epoll_wait", Wait.self))
    }()

    let fd: Int32
    private let events: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int = 512) {
        fd = Epoll.calls.create(Epoll.closeOnExec)
        precondition(fd >= 0, "epoll_create1 failed")
        self.capacity = capacity
        events = UnsafeMutableRawPointer.allocate(byteCount: capacity * Epoll.eventStride, alignment: 8)
    }

    private func control(_ op: Int32, _ socket: Int32, _ mask: UInt32, _ token: UInt64) -> Bool {
        var event = (UInt64(0), UInt64(0))
        return withUnsafeMutableBytes(of: &event) { raw in
            raw.storeBytes(of: mask, toByteOffset: 0, as: UInt32.self)
            raw.storeBytes(of: token, toByteOffset: Epoll.dataOffset, as: UInt64.self)
            return Epoll.calls.control(fd, op, socket, raw.baseAddress) == 0
        }
    }

    func register(_ socket: Int32, _ mask: UInt32, token: UInt64) -> Bool { control(Epoll.add, socket, mask, token) }
    func modify(_ socket: Int32, _ mask: UInt32, token: UInt64) { _ = control(Epoll.modify, socket, mask, token) }

    /// Waits up to `timeoutMS`; returns how many events `event(at:)` can read.
    func wait(timeoutMS: Int32) -> Int {
        let n = Epoll.calls.wait(fd, events, Int32(capacity), timeoutMS)
        return n > 0 ? Int(n) : 0
    }

    /// The mask and token of event `i` of the last `wait`.
    func event(at i: Int) -> (mask: UInt32, token: UInt64) {
        let base = events + i * Epoll.eventStride
        return (base.loadUnaligned(as: UInt32.self), base.loadUnaligned(fromByteOffset: Epoll.dataOffset, as: UInt64.self))
    }
}

/// Monotonic nanoseconds.
@inline(__always)
func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Sleeps until `deadline` (monotonic nanoseconds), waking every millisecond.
/// The short naps match wsbench's loadgen: on a core shared with other work, a thread that wakes
/// this often makes the scheduler run the worker sooner after its socket becomes readable, which
/// moved 1-connection and deflate rates by up to 3x here. Same naps, comparable figures.
func sleep(until deadline: UInt64) {
    while true {
        let t = nowNanos()
        if t >= deadline { return }
        usleep(UInt32(min((deadline - t) / 1000 + 1, 1_000)))
    }
}

/// xorshift64*: cheap, good enough for mask keys, handshake keys and payloads.
struct FastRandom {
    private var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
