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

    /// Waits for the next connection.
    func accept() throws(Errno) -> Socket {
        let client = try Errno.retrying { Glibc.accept(fd, nil, nil) }
        return Socket(fd: client)
    }

    /// Wakes a thread blocked in `accept` (Linux returns EINVAL from it) and stops new connections.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
}
