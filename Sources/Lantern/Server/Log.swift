#if canImport(Glibc)
import Glibc
#endif

/// One line per event on stderr: `lantern: LEVEL event key=value ...`.
/// Written with a single write(2) so lines from different threads never interleave.
public struct Log: Sendable {
    public var level: LogLevel

    public init(level: LogLevel) { self.level = level }

    public func callAsFunction(_ lineLevel: LogLevel, _ message: String) {
        guard lineLevel >= level else { return }
        var line = "lantern: "
        line += String(decoding: lineLevel.name.utf8Bytes, as: UTF8.self)
        line += " "
        line += message
        line += "\n"
        Log.write(line, to: 2)
    }

    /// Writes a whole string to a file descriptor.
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                guard let n = try? Errno.retrying({ Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset) }),
                      n > 0 else { return }
                offset += n
            }
        }
    }
}
