#if canImport(Glibc)
import Glibc
#endif

/// A connected TCP socket. Every call that can be interrupted (EINTR) goes through
/// `Errno.retrying`; `setsockopt` and `shutdown` cannot be, and `close` is never retried (Linux
/// frees the descriptor even when it reports EINTR, and a retry could close another thread's).
struct Socket: Sendable {
    let fd: Int32

    /// Reads into `buffer`; 0 means the peer closed its side. A receive timeout throws EAGAIN.
    /// With `wait: false` an empty socket throws EAGAIN at once.
    func read(into buffer: UnsafeMutableRawBufferPointer, wait: Bool = true) throws(Errno) -> Int {
        try Errno.retrying { recv(fd, buffer.baseAddress, buffer.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
    }

    /// Writes all of `first` then all of `second` (header + payload in one syscall when possible).
    /// MSG_NOSIGNAL: a vanished peer is an EPIPE error, not a process-killing signal.
    /// With `timeoutMs`, the whole write must finish within it (EAGAIN otherwise). It is kept by
    /// our own clock: non-blocking sends, and `poll` for room in between. SO_SNDTIMEO alone
    /// restarts with every partial write, and a blocking `sendmsg` to a peer in zero-window
    /// probing was seen to outlast it many times over (2 s set, more than 10 s blocked, Linux
    /// 6.18 under load). Without `timeoutMs` the socket's own SO_SNDTIMEO applies.
    func writeAll(
        _ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
        timeoutMs: Int = 0
    ) throws(Errno) {
        var a = first, b = second
        let flags = Int32(MSG_NOSIGNAL) | (timeoutMs > 0 ? Int32(MSG_DONTWAIT) : 0)
        // Read the clock only once the socket is full: the usual write never waits.
        var deadline: Int64?
        var pollSaidReady = false
        /// Waits for room until the deadline; throws `error` (EAGAIN) once it has passed.
        func awaitRoom(_ error: Errno) throws(Errno) {
            let end = deadline ?? MonotonicClock.nowMs() + Int64(timeoutMs)
            deadline = end
            let remaining = MonotonicClock.msUntil(end)
            if remaining <= 0 { throw error }
            // Ready by poll yet still full (the kernel short of memory for the socket):
            // back off a little instead of spinning.
            if pollSaidReady { usleep(1_000) }
            pollSaidReady = try waitWritable(timeoutMs: remaining)
            if !pollSaidReady { throw error }
        }
        while a.count + b.count > 0 {
            var iov = (
                iovec(iov_base: UnsafeMutableRawPointer(mutating: a.baseAddress), iov_len: a.count),
                iovec(iov_base: UnsafeMutableRawPointer(mutating: b.baseAddress), iov_len: b.count)
            )
            let result = withUnsafeMutableBytes(of: &iov) { raw in
                var msg = msghdr()
                msg.msg_iov = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
                msg.msg_iovlen = 2
                return Result { () throws(Errno) -> Int in try Errno.retrying { sendmsg(fd, &msg, flags) } }
            }
            let sent: Int
            switch result {
            case .success(let n):
                sent = n
            case .failure(let error):
                guard timeoutMs > 0 && error.isTimeout else { throw error }
                try awaitRoom(error)
                continue
            }
            pollSaidReady = false
            if sent >= a.count {
                let rest = sent - a.count
                a = UnsafeRawBufferPointer(start: nil, count: 0)
                b = UnsafeRawBufferPointer(rebasing: b[rest...])
            } else {
                a = UnsafeRawBufferPointer(rebasing: a[sent...])
            }
            // A short non-blocking write means the buffer is full: wait for room now rather
            // than learn it from one more sendmsg.
            if timeoutMs > 0 && a.count + b.count > 0 { try awaitRoom(Errno(EAGAIN)) }
        }
    }

    /// Waits until the socket has room to write, or an error to report; false on timeout.
    private func waitWritable(timeoutMs: Int) throws(Errno) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let ready = try Errno.retrying { Int(poll(&entry, 1, Int32(min(timeoutMs, Int(Int32.max))))) }
        return ready > 0
    }

    func writeAll(_ bytes: [UInt8]) throws(Errno) {
        try bytes.withUnsafeBytes { p in Result { () throws(Errno) in try writeAll(p) } }.get()
    }

    /// Bounds how long a `read` blocks (0 = forever); a timeout surfaces as EAGAIN.
    func setReceiveTimeout(milliseconds: Int) { setTimeout(SO_RCVTIMEO, milliseconds) }

    /// Bounds how long a `write` may block on a peer that does not read.
    func setSendTimeout(milliseconds: Int) { setTimeout(SO_SNDTIMEO, milliseconds) }

    private func setTimeout(_ option: Int32, _ ms: Int) {
        // time_t and suseconds_t are 64 bits on 32-bit musl, where Int is not.
        var tv = timeval(tv_sec: .init(ms / 1000), tv_usec: .init((ms % 1000) * 1000))
        _ = setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Small messages go out at once: no Nagle delay waiting for an ACK.
    func setNoDelay() {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    func setSendBufferSize(_ bytes: Int) {
        var size = Int32(bytes)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Makes the next close drop unsent data and reset the connection (for peers we give up on).
    func setAbortiveClose() {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    func shutdownWrite() { _ = Glibc.shutdown(fd, Int32(SHUT_WR)) }

    func close() { _ = Glibc.close(fd) }

    /// Closes after our last bytes have a chance to arrive: half-close, then drain what the peer
    /// still sends (bounded) until it closes too. Closing with unread input would send a RST,
    /// which can destroy a close frame still in flight to the peer.
    func closeAfterDraining(timeoutMilliseconds: Int, maxBytes: Int = 1 << 20) {
        shutdownWrite()
        drainAndClose(timeoutMilliseconds: timeoutMilliseconds, maxBytes: maxBytes)
    }

    /// Closes at once unless the peer is still sending: then drains first, since closing with
    /// unread input would turn the close into a RST.
    func closeUnlessPeerIsSending(timeoutMilliseconds: Int) {
        var byte: UInt8 = 0
        if let n = try? Errno.retrying({ recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) }), n > 0 {
            drainAndClose(timeoutMilliseconds: timeoutMilliseconds)
        } else {
            close()
        }
    }

    /// The second half of `closeAfterDraining`, for a socket whose write side is already shut.
    /// The timeout bounds the whole drain, not each read: a peer trickling a byte at a time
    /// must not hold the thread and its connection slot for longer.
    func drainAndClose(timeoutMilliseconds: Int, maxBytes: Int = 1 << 20) {
        let deadline = MonotonicClock.nowMs() + Int64(timeoutMilliseconds)
        var drained = 0
        withUnsafeTemporaryAllocation(byteCount: 4096, alignment: 8) { scratch in
            while drained < maxBytes {
                let left = MonotonicClock.msUntil(deadline)
                guard left > 0 else { break }
                setReceiveTimeout(milliseconds: left)
                guard let n = try? read(into: scratch), n > 0 else { break }
                drained += n
            }
        }
        close()
    }
}
