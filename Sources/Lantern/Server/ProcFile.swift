#if canImport(Glibc)
import Glibc
#endif

/// Reads small /proc files without Foundation. Close-on-exec: a program started by another
/// thread meanwhile (`lantern -- PROGRAM`) must not inherit the descriptor.
enum ProcFile {
    static func read(_ path: String) -> [UInt8]? {
        guard let fd = try? Errno.retrying({ open(path, O_RDONLY | O_CLOEXEC) }) else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            // Through Result: a typed-throws closure given to a rethrowing method is `any Error`,
            // which Embedded Swift cannot hold.
            let read = chunk.withUnsafeMutableBytes { p in Result { () throws(Errno) in try Errno.retrying { Glibc.read(fd, p.baseAddress, 512) } } }
            guard case .success(let n) = read, n > 0 else { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
