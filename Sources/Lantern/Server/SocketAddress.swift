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

    static func port(_ storage: sockaddr_storage) -> UInt16 {
        var s = storage
        return withUnsafeBytes(of: &s) { raw in
            if storage.ss_family == sa_family_t(AF_INET6) {
                return UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
            }
            return UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// "host:port" (IPv6 as "[host]:port").
    static func describe(_ storage: sockaddr_storage) -> String {
        var s = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let isV6 = storage.ss_family == sa_family_t(AF_INET6)
        withUnsafeBytes(of: &s) { raw in
            if isV6 {
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
            } else {
                var a = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
            }
        }
        let host = String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return isV6 ? "[\(host)]:\(port(storage))" : "\(host):\(port(storage))"
    }
}
