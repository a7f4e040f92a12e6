#if canImport(Glibc)
import Glibc
#endif

/// Numeric IPv4/IPv6 addresses (no name resolution: a static glibc cannot load NSS modules).
enum SocketAddress {
    /// Builds a sockaddr for a numeric host ("0.0.0.0", "127.0.0.1", "::", "::1") or "localhost".
    static func make(host: String, port: UInt16) -> sockaddr_storage? {
        var storage = sockaddr_storage()
        let name = host == "localhost" ? "127.0.0.1" : host
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, name, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: v4) { dst.copyMemory(from: $0) } }
            return storage
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, name, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: v6) { dst.copyMemory(from: $0) } }
            return storage
        }
        return nil
    }

    /// A Unix socket address, or nil when `path` does not fit `sun_path` (107 bytes and a NUL).
    static func makeUnix(path: String) -> sockaddr_storage? {
        let bytes = Array(path.utf8)
        var address = sockaddr_un()
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path), !bytes.contains(0) else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: address) { dst.copyMemory(from: $0) } }
        return storage
    }

    /// A peer as `PeerAddress` (IPv4 peers of a dual-stack socket come as IPv4-mapped
    /// addresses, which `PeerAddress` prints as dotted quads).
    static func peer(_ storage: sockaddr_storage) -> PeerAddress {
        var s = storage
        return withUnsafeBytes(of: &s) { raw in
            switch Int32(storage.ss_family) {
            case AF_INET6:
                let v6 = raw.load(as: sockaddr_in6.self)
                let bytes = withUnsafeBytes(of: v6.sin6_addr) { Array($0) }
                return .ip(IPAddress(bytes: bytes), port: UInt16(bigEndian: v6.sin6_port))
            case AF_INET:
                let v4 = raw.load(as: sockaddr_in.self)
                let b = withUnsafeBytes(of: v4.sin_addr) { Array($0) }
                return .ip(IPAddress(ipv4: b[0], b[1], b[2], b[3]), port: UInt16(bigEndian: v4.sin_port))
            default:
                return .unix
            }
        }
    }

    static func port(_ storage: sockaddr_storage) -> UInt16 {
        var s = storage
        return withUnsafeBytes(of: &s) { raw in
            if storage.ss_family == sa_family_t(AF_INET6) {
                return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            }
            return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// "host:port" (IPv6 as "[host]:port"), or "unix:PATH" for a Unix socket.
    static func describe(_ storage: sockaddr_storage) -> String {
        guard storage.ss_family == sa_family_t(AF_UNIX) else { return peer(storage).text }
        var s = storage
        let path = withUnsafeBytes(of: &s) { raw in
            withUnsafeBytes(of: raw.load(as: sockaddr_un.self).sun_path) { Array($0.prefix(while: { $0 != 0 })) }
        }
        return "unix:" + String(decoding: path, as: UTF8.self)
    }
}
