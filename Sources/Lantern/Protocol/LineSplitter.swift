/// Cuts a byte stream (a program's stdout or stderr) into lines, `\n` excluded. Bytes after the
/// last `\n` wait for more; a line that grows past `maxLineBytes` without ending is an error,
/// so a program that never prints a newline cannot make the server hold unbounded memory.
public struct LineSplitter {
    public enum Overflow: Error, Equatable { case lineTooLong }

    public let maxLineBytes: Int
    /// The unfinished line so far.
    public private(set) var pending: [UInt8] = []

    public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// Calls `line` for every line `bytes` completes, in order. Throws (after the lines before
    /// it) when the unfinished line would pass the limit; `pending` then holds what it kept.
    public mutating func feed(
        _ bytes: UnsafeRawBufferPointer, _ line: (UnsafeRawBufferPointer) -> Void
    ) throws(Overflow) {
        var start = 0
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            let piece = UnsafeRawBufferPointer(rebasing: bytes[start..<newline])
            if pending.isEmpty {
                guard piece.count <= maxLineBytes else { throw .lineTooLong }
                line(piece)
            } else {
                guard pending.count + piece.count <= maxLineBytes else { throw .lineTooLong }
                pending.append(contentsOf: piece)
                pending.withUnsafeBytes { line($0) }
                pending.removeAll(keepingCapacity: pending.count <= 64 << 10)
            }
            start = newline + 1
        }
        let rest = bytes.count - start
        guard rest > 0 else { return }
        guard pending.count + rest <= maxLineBytes else {
            pending.append(contentsOf: bytes[start..<(start + maxLineBytes - pending.count)])
            throw .lineTooLong
        }
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start...]))
    }

    /// At end of stream: the last line when it had no `\n`, and the splitter is empty again.
    public mutating func finish() -> [UInt8]? {
        guard !pending.isEmpty else { return nil }
        defer { pending = [] }
        return pending
    }

    /// Forgets the unfinished line (after an overflow was reported).
    public mutating func reset() { pending = [] }
}
