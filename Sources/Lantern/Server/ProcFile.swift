#if canImport(Glibc)
import Glibc
#endif

/// Reads small /proc files without Foundation.
enum ProcFile {
    static func read(_ path: String) -> [UInt8]? {
        guard let fd = try? Errno.retrying({ open(path, O_RDONLY) }) else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            guard let n = try? chunk.withUnsafeMutableBytes({ p throws(Errno) in try Errno.retrying { Glibc.read(fd, p.baseAddress, 512) } }),
                  n > 0 else { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
