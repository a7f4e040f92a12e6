#if canImport(Glibc)
import Glibc
#endif

/// Reads small /proc files without Foundation.
enum ProcFile {
    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            let read = chunk.withUnsafeMutableBytes { buffer in Result { () throws(Errno) in try Errno.retrying { Glibc.read(fd, buffer.baseAddress, 512) } } }
            guard case .success(let n) = read, n > 0 else { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
