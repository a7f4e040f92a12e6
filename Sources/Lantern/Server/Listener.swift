#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// The listening socket: TCP (one dual-stack IPv6 socket by default) or a Unix socket.
struct Listener: Sendable {
    let fd: Int32
    /// The address actually bound (the real port when 0 was asked for).
    let boundAddress: sockaddr_storage
    /// The Unix socket's path, removed again on a clean exit.
    let unixPath: String?

    enum OpenError: Error {
        case badAddress
        case system(StaticString, Errno)
        /// `--unix-socket` names something that is not a socket: it is never removed.
        case notASocket
        /// Another server answers on the Unix socket.
        case socketInUse
    }

    /// TCP on `host`; nil means every address, IPv4 and IPv6 on one socket (`::` with
    /// IPV6_V6ONLY off), or `0.0.0.0` alone when the kernel has no IPv6 (`fellBack`).
    /// An explicit `::` is IPv6 only; `0.0.0.0` is IPv4 only.
    static func open(host: String?, port: UInt16, backlog: Int32, ipv6Unavailable: Bool = false) throws(OpenError) -> (Listener, fellBack: Bool) {
        guard let host else {
            do throws(OpenError) {
                if ipv6Unavailable { throw OpenError.system("socket", Errno(EAFNOSUPPORT)) }
                return (try bind(address(host: "::", port: port), v6Only: false, backlog: backlog), false)
            } catch {
                // No IPv6 in this kernel (socket: EAFNOSUPPORT), or `::` cannot be bound
                // (IPv6 disabled: EADDRNOTAVAIL).
                guard case .system(_, let e) = error, e.code == EAFNOSUPPORT || e.code == EADDRNOTAVAIL else { throw error }
                return (try bind(address(host: "0.0.0.0", port: port), v6Only: true, backlog: backlog), true)
            }
        }
        return (try bind(address(host: host, port: port), v6Only: true, backlog: backlog), false)
    }

    private static func address(host: String, port: UInt16) throws(OpenError) -> sockaddr_storage {
        guard let address = SocketAddress.make(host: host, port: port) else { throw .badAddress }
        return address
    }

    private static func bind(_ address: sockaddr_storage, v6Only: Bool, backlog: Int32) throws(OpenError) -> Listener {
        var address = address
        let isV6 = address.ss_family == sa_family_t(AF_INET6)
        let fd = socket(Int32(address.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", .current) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if isV6 {
            // Set either way: the system default (net.ipv6.bindv6only) must not decide.
            var only: Int32 = v6Only ? 1 : 0
            _ = setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, socklen_t(MemoryLayout<Int32>.size))
        }
        let length = socklen_t(isV6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) } }
        return try finish(fd, bound: bound, backlog: backlog, unixPath: nil)
    }

    /// A Unix socket at `path` with permissions `mode`. A socket file left by a crash (nobody
    /// accepts on it) is replaced; anything else at `path` is an error and stays untouched.
    static func openUnix(path: String, mode: UInt32, backlog: Int32) throws(OpenError) -> Listener {
        guard var address = SocketAddress.makeUnix(path: path) else { throw .badAddress }
        try removeStaleSocket(path, address)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", .current) }
        // Created with no permissions for others, then opened up to `mode`: never wider meanwhile.
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        let listener = try finish(fd, bound: bound, backlog: backlog, unixPath: path)
        guard chmod(path, mode_t(mode)) == 0 else {
            let e = Errno.current
            listener.close()
            throw .system("chmod", e)
        }
        return listener
    }

    private static func removeStaleSocket(_ path: String, _ address: sockaddr_storage) throws(OpenError) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard UInt32(info.st_mode) & UInt32(Glibc.S_IFMT) == UInt32(Glibc.S_IFSOCK) else { throw .notASocket }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw .system("socket", .current) }
        defer { Glibc.close(probe) }
        var address = address
        // A listener with a full backlog keeps connect waiting: a signal then must not make a
        // live socket look stale.
        let connected = withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { s in
                (try? Errno.retrying { connect(probe, s, socklen_t(MemoryLayout<sockaddr_un>.size)) }) != nil
            }
        }
        if connected { throw .socketInUse }
        _ = unlink(path)
    }

    private static func finish(_ fd: Int32, bound: Int32, backlog: Int32, unixPath: String?) throws(OpenError) -> Listener {
        guard bound == 0 else { let e = Errno.current; Glibc.close(fd); throw .system("bind", e) }
        guard listen(fd, backlog) == 0 else {
            let e = Errno.current
            Glibc.close(fd)
            if let unixPath { _ = unlink(unixPath) }
            throw .system("listen", e)
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) } }
        return Listener(fd: fd, boundAddress: actual, unixPath: unixPath)
    }

    /// Waits for the next connection; returns it with the peer's address (no getpeername later).
    func accept() throws(Errno) -> (socket: Socket, peer: sockaddr_storage) {
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = try withUnsafeMutablePointer(to: &peer) { p throws(Errno) in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a throws(Errno) in
                // Close-on-exec from the start: a program started for another connection
                // (`lantern -- PROGRAM`) must never inherit this client's socket.
                try Errno.retrying { lantern_accept4(fd, a, &length, Int32(SOCK_CLOEXEC.rawValue)) }
            }
        }
        return (Socket(fd: client), peer)
    }

    /// Options set once here instead of on every connection: Linux copies a listener's
    /// TCP_NODELAY, SO_SNDTIMEO and SO_RCVTIMEO onto each socket it accepts. The receive
    /// timeout also bounds `accept` itself.
    func setInheritedOptions(sendTimeoutMs: Int, receiveTimeoutMs: Int) {
        let socket = Socket(fd: fd)
        if unixPath == nil { socket.setNoDelay() }
        socket.setSendTimeout(milliseconds: sendTimeoutMs)
        socket.setReceiveTimeout(milliseconds: receiveTimeoutMs)
    }

    /// Wakes a thread blocked in `accept` (Linux returns EINVAL from it) and stops new connections.
    func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

    /// Closes it and removes its Unix socket file.
    func close() {
        _ = Glibc.close(fd)
        if let unixPath { _ = unlink(unixPath) }
    }
}
