#if canImport(Glibc)
import Glibc
#endif

/// The listening socket.
struct Listener: Sendable {
    let fd: Int32
    /// The address actually bound (the real port when 0 was asked for).
    let boundAddress: sockaddr_storage

    enum OpenError: Error {
        case badAddress
        case system(StaticString, Errno)
    }

    static func open(host: String, port: UInt16, backlog: Int32) throws(OpenError) -> Listener {
        guard var address = SocketAddress.make(host: host, port: port) else { throw .badAddress }
        let fd = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", .current) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(address.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { let e = Errno.current; Glibc.close(fd); throw .system("bind", e) }
        guard listen(fd, backlog) == 0 else { let e = Errno.current; Glibc.close(fd); throw .system("listen", e) }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) } }
        return Listener(fd: fd, boundAddress: actual)
    }

    /// Waits for the next connection; returns it with the peer's address (no getpeername later).
    func accept() throws(Errno) -> (socket: Socket, peer: sockaddr_storage) {
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = try withUnsafeMutablePointer(to: &peer) { p throws(Errno) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a throws(Errno) in
                try Errno.retrying { Glibc.accept(fd, a, &length) }
            }
        }
        return (Socket(fd: client), peer)
    }

    /// Options set once here instead of on every connection: Linux copies a listener's
    /// TCP_NODELAY, SO_SNDTIMEO and SO_RCVTIMEO onto each socket it accepts. The receive
    /// timeout also bounds `accept` itself.
    func setInheritedOptions(sendTimeoutMs: Int, receiveTimeoutMs: Int) {
        let socket = Socket(fd: fd)
        socket.setNoDelay()
        socket.setSendTimeout(milliseconds: sendTimeoutMs)
        socket.setReceiveTimeout(milliseconds: receiveTimeoutMs)
    }

    /// Wakes a thread blocked in `accept` (Linux returns EINVAL from it) and stops new connections.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
