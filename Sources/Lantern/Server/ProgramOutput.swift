#if canImport(Glibc)
import Glibc
#endif

/// The thread that carries a program's output, one per program: each stdout line to the client
/// as one message (text when it is UTF-8, binary otherwise), each stderr line to the log
/// (rate-limited); then it reaps the program and ends the session with the close code its
/// exit status calls for. Sending blocks while the client is slow, which stops this thread
/// reading, which fills the pipe, which stops the program: backpressure without a queue.
final class ProgramOutput: @unchecked Sendable {
    let child: ChildProcess
    let handle: ConnectionHandle
    let server: ServerContext
    private var stdoutLines: LineSplitter
    private var stderrLines = LineSplitter(maxLineBytes: 512)
    private var stderrLimit = LogRateLimit(burst: 20, perSecond: 5, nowMs: MonotonicClock.nowMs())
    /// False once the client cannot take more (closing, gone, or a line too long): the rest
    /// of stdout is read and dropped, so the program is never stuck on a full pipe.
    private var forwarding = true

    init(child: ChildProcess, handle: ConnectionHandle, server: ServerContext) {
        self.child = child
        self.handle = handle
        self.server = server
        stdoutLines = LineSplitter(maxLineBytes: server.configuration.limits.maxMessageBytes)
    }

    func run() {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16 << 10, alignment: 1)
        defer { chunk.deallocate() }
        var fds = [pollfd(fd: child.stdoutFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: child.stderrFD, events: Int16(POLLIN), revents: 0)]
        while fds[0].fd >= 0 || fds[1].fd >= 0 {
            // Woken once a second to look for a program that exited while something it started
            // still holds its stdout open: it is reaped (and the session closed) all the same.
            let ready = poll(&fds, 2, 1_000)
            if ready == 0 && child.hasExited {
                // Whatever it left running (holding the pipe) goes with the connection. Signalled
                // before the reaping: the group's id cannot be reused while its leader is a zombie.
                _ = child.signal(SIGTERM)
                server.log(.info, "exec-left id=\(handle.id) pid=\(child.pid): exited with its output still held open; SIGTERM to its process group")
                break
            }
            if ready <= 0 { continue }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, chunk.baseAddress, chunk.count)
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n <= 0 {
                    i == 0 ? stdoutEnded() : stderrEnded()
                    _ = close(fds[i].fd)
                    fds[i].fd = -1
                    continue
                }
                let bytes = UnsafeRawBufferPointer(rebasing: chunk[..<n])
                i == 0 ? stdoutBytes(bytes) : stderrBytes(bytes)
            }
        }
        if fds[0].fd >= 0 { stdoutEnded() }
        for entry in fds where entry.fd >= 0 { _ = close(entry.fd) }
        finish(child.reap())
    }

    private func stdoutBytes(_ bytes: UnsafeRawBufferPointer) {
        guard forwarding else { return }
        do throws(LineSplitter.Overflow) {
            try stdoutLines.feed(bytes) { send($0) }
        } catch {
            stdoutLines.reset()
            forwarding = false
            let limit = server.configuration.limits.maxMessageBytes
            server.log(.warn, "exec-line id=\(handle.id): the program wrote a line longer than \(limit) bytes (--max-message-bytes), closing 1009")
            handle.sendClose(CloseReason(.messageTooBig, "program line too long"))
        }
    }

    /// A last line without a newline still goes out.
    private func stdoutEnded() {
        if forwarding, let last = stdoutLines.finish() { last.withUnsafeBytes { send($0) } }
    }

    private func send(_ line: UnsafeRawBufferPointer) {
        guard forwarding else { return }
        let opcode: Opcode = UTF8Validator.isValid(line) ? .text : .binary
        if !handle.sendMessage(opcode, line) { forwarding = false }
    }

    private func stderrBytes(_ bytes: UnsafeRawBufferPointer) {
        do throws(LineSplitter.Overflow) {
            try stderrLines.feed(bytes) { logStderr($0) }
        } catch {
            // A long stderr line is logged cut short rather than refused.
            if let kept = stderrLines.finish() { kept.withUnsafeBytes { logStderr($0) } }
        }
    }

    private func stderrEnded() {
        if let last = stderrLines.finish() { last.withUnsafeBytes { logStderr($0) } }
    }

    private func logStderr(_ line: UnsafeRawBufferPointer) {
        guard stderrLimit.allow(nowMs: MonotonicClock.nowMs()) else { return }
        let dropped = stderrLimit.dropped
        stderrLimit.reported()
        let note = dropped > 0 ? " (\(dropped) lines dropped before this one)" : ""
        // Only printable bytes reach the log: a program cannot forge log lines with control bytes.
        let shown = String(decoding: line.map { $0 < 0x20 || $0 == 0x7f ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
        server.log(.warn, "exec-stderr id=\(handle.id)\(note): \(shown)")
    }

    /// Counts the exit and closes the session: 1000 or 1011 by the exit status, 1001 while the
    /// server stops. A close frame already sent (the client left first) makes this a no-op.
    private func finish(_ exit: ProgramExit) {
        server.metrics.programExited(exit)
        server.log(exit.closeCode == .normalClosure ? .info : .warn, "exec-exit id=\(handle.id) pid=\(child.pid) \(exit.text)")
        if server.isStopping {
            handle.sendClose(.shuttingDown)
        } else if exit.closeCode == .normalClosure {
            handle.sendClose(CloseReason(.normalClosure, "program exited"))
        } else {
            handle.sendClose(CloseReason(.internalError, "program failed"))
        }
    }
}

func programOutputThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<ProgramOutput>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}
