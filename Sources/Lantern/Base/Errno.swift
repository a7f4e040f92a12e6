#if canImport(Glibc)
import Glibc
#endif

/// A failed system call's `errno`.
public struct Errno: Error, Equatable, Sendable {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }

    /// The calling thread's current errno.
    static var current: Errno { Errno(errno) }

    var isTimeout: Bool { code == EAGAIN || code == EWOULDBLOCK }

    /// Runs a syscall, retrying on EINTR, and turns -1 into `Errno`. Every call that a signal
    /// can interrupt goes through it (accept, recv, sendmsg, poll, read, write); close does not:
    /// Linux has released the descriptor even when close reports EINTR.
    @inline(__always)
    static func retrying<T: BinaryInteger>(_ call: () -> T) throws(Errno) -> T {
        while true {
            let r = call()
            if r != -1 { return r }
            if errno != EINTR { throw Errno.current }
        }
    }
}
