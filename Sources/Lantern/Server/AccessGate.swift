#if canImport(Glibc)
import Glibc
#endif

/// The access token's shared state: the configured token and the per-address failure limiter,
/// behind one lock (every connection thread asks it).
final class AccessGate: @unchecked Sendable {
    let token: AccessToken
    private var limiter = FailureLimiter()
    private let lock = Lock()

    init(token: AccessToken) { self.token = token }

    /// The check for a request from `client` now: the token and whether the address may try.
    func check(_ client: PeerAddress) -> AccessCheck {
        let key = AccessGate.key(client), now = MonotonicClock.nowMs()
        return AccessCheck(token: token, retryAfterMs: lock.locked { limiter.retryAfterMs(key, now: now) })
    }

    /// Counts a wrong guess from `client` (a missing token is not one).
    func failed(_ client: PeerAddress) {
        let key = AccessGate.key(client), now = MonotonicClock.nowMs()
        lock.locked { limiter.recordFailure(key, now: now) }
    }

    /// The limiter's key: an IPv4 address whole, an IPv6 address by its /64 (one host usually
    /// holds a whole /64, and could otherwise guess afresh from each of its addresses).
    static func key(_ client: PeerAddress) -> [UInt8] {
        switch client {
        case .ip(let address, _): return address.isIPv4 ? address.bytes : Array(address.bytes.prefix(8))
        case .unix: return []
        case .name(let name): return Array(name.utf8)
        }
    }
}

extension AccessToken {
    /// Reads the token file once at startup; the error text names the file and the problem,
    /// never the content.
    static func load(path: String) -> Result<AccessToken, AccessFileError> {
        let fd: Int32
        do throws(Errno) {
            fd = try Errno.retrying { open(path, O_RDONLY | O_CLOEXEC) }
        } catch {
            return .failure(AccessFileError("cannot open \(path): errno \(error.code)"))
        }
        defer { close(fd) }
        // Enough for the longest token and any trailing white space; a larger file is a mistake
        // (a key file, /dev/urandom itself), refused without reading on.
        let cap = 4096
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while content.count <= cap {
            let n: Int
            switch chunk.withUnsafeMutableBytes({ p in Result { () throws(Errno) in try Errno.retrying { Glibc.read(fd, p.baseAddress, p.count) } } }) {
            case .success(let count): n = count
            case .failure(let error): return .failure(AccessFileError("cannot read \(path): errno \(error.code)"))
            }
            if n == 0 { break }
            content.append(contentsOf: chunk[0..<n])
        }
        guard content.count <= cap else { return .failure(AccessFileError("\(path) is larger than \(cap) bytes: not a token file")) }
        do throws(AccessToken.Invalid) {
            return .success(try AccessToken(fileContent: content))
        } catch {
            return .failure(AccessFileError("\(path): " + error.message))
        }
    }
}

/// Why the token file cannot be used (its text is safe to log).
struct AccessFileError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
