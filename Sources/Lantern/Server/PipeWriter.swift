#if canImport(Glibc)
import Glibc
#endif

/// What became of a message written to a program's stdin.
enum StdinOutcome {
    case written
    /// The program closed its stdin or exited: nothing reads it any more.
    case closed
    /// The pipe stayed full for the whole send timeout: the program is not reading.
    case stalled
}

/// Writes to a non-blocking pipe, waiting for room with `poll`, within one deadline for it all.
struct PipeWriter {
    let fd: Int32
    let timeoutMs: Int

    func write(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> StdinOutcome {
        var a = first, b = second
        var deadline: Int64?
        while a.count + b.count > 0 {
            var iov = (
                iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count),
                iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
            )
            let n = withUnsafeMutableBytes(of: &iov) { writev(fd, $0.baseAddress!.assumingMemoryBound(to: iovec.self), 2) }
            if n >= 0 {
                let fromA = min(n, a.count)
                a = UnsafeRawBufferPointer(rebasing: a[fromA...])
                b = UnsafeRawBufferPointer(rebasing: b[(n - fromA)...])
                continue
            }
            switch errno {
            case EINTR: continue
            case EAGAIN:
                let end = deadline ?? MonotonicClock.nowMs() + Int64(timeoutMs)
                deadline = end
                let remaining = MonotonicClock.msUntil(end)
                guard remaining > 0 else { return .stalled }
                var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&entry, 1, Int32(min(remaining, Int(Int32.max))))
            default:
                // EPIPE (SIGPIPE is ignored): the read end is closed.
                return .closed
            }
        }
        return .written
    }
}
