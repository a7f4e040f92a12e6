#if canImport(Glibc)
import Glibc
#endif

/// How a finished WebSocket's socket is to be closed.
enum SocketEnding {
    /// We sent the first close frame: half-close and drain until the peer's close arrives,
    /// so our frame is not lost to a RST.
    case drain
    /// Both close frames have crossed, so the peer sends nothing more (RFC 6455 §5.5.1):
    /// close now, first, as §7.1.1 asks of a server, without waiting for the peer's FIN.
    case handshakeComplete
    /// The peer is gone or broken: close at once.
    case abort
}

/// What became of an outgoing data message.
enum SendOutcome {
    /// Written, or queued for the writer thread.
    case sent
    /// Dropped because the connection is closing: a close frame went out (after which RFC 6455
    /// §5.5.1 allows no data frames) or its queue was retired. Nothing has failed: the peer's
    /// messages in flight are answered by silence, and its close reply still ends the handshake.
    case closing
    /// The write failed or stalled, or the queue is full: the peer is gone or not reading.
    case failed
}

/// The shared face of one WebSocket connection: its socket's single writer.
/// The connection's own thread, its writer thread (fan-out mode) and the shutdown path send
/// through it, one at a time under `writeLock`, and nothing is sent after a close frame.
final class ConnectionHandle: @unchecked Sendable {
    /// Unique within the process (`ServerContext.nextID`): 64 bits, so it never wraps or traps.
    let id: UInt64
    let socket: Socket
    private let writeLock = Lock()
    /// Send side of permessage-deflate; used only under `writeLock`.
    private let deflate: PerMessageDeflate?
    private let metrics: Metrics
    /// Budget for writing one frame (`--send-timeout`).
    private let sendTimeoutMs: Int
    /// Present in fan-out mode: data messages wait here for the writer thread.
    let outbox: Outbox?
    /// Which close frames have crossed; guarded by `writeLock`.
    private var closing = ClosingHandshake()
    /// Guarded by `writeLock`: the 101 response is out, so frames may follow. A connection is
    /// registered before its 101 (so the count never lags what a client sees); until then other
    /// threads must not put a frame on the wire ahead of the response.
    private var opened = false
    /// Set when another thread ended this connection (slow consumer); read by its own thread.
    private let failure = Lock()
    private var failedWith: CloseCode?
    /// Guarded by `failure`: the descriptor is (about to be) closed; never shut it down then.
    private var socketRetired = false

    init(id: UInt64, socket: Socket, deflate: PerMessageDeflate?, metrics: Metrics, outbox: Outbox?, sendTimeoutMs: Int) {
        self.sendTimeoutMs = sendTimeoutMs
        self.id = id
        self.socket = socket
        self.deflate = deflate
        self.metrics = metrics
        self.outbox = outbox
    }

    /// Sends a data message: queued in fan-out mode, written at once otherwise.
    /// Returns false when the connection is closing or the write failed.
    func sendMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> Bool {
        if outbox != nil {
            let outcome = enqueue(SharedMessage(opcode: opcode, bytes: Array(payload)))
            if outcome == .failed { failSlowConsumer() }
            return outcome == .sent
        }
        let outcome = writeMessage(opcode, payload)
        if outcome == .failed { failWrite() }
        return outcome == .sent
    }

    /// Queues a message for the writer thread (writes it at once without one).
    func enqueue(_ message: SharedMessage) -> SendOutcome {
        guard let outbox else { return message.bytes.withUnsafeBytes { writeMessage(message.opcode, $0) } }
        return outbox.push(message)
    }

    /// Compresses (when negotiated and worthwhile) and writes one message now.
    func writeMessage(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer) -> SendOutcome {
        let outcome = writeLock.locked { () -> SendOutcome in
            if closing.handle(.frameToSend) == .nothing { return .closing }
            let result: Result<Void, Errno>
            if let deflate, deflate.deflate(payload) {
                // RFC 7692 §6: RSV1 on the (only) frame marks the message as compressed.
                metrics.compressedBytesOut.add(deflate.compressed.count)
                metrics.uncompressedBytesOut.add(payload.count)
                result = deflate.compressed.withUnsafeBytes { c in
                    Result { () throws(Errno) in try Self.writeFrame(socket, opcode, c, FrameHeader.rsv1, sendTimeoutMs) }
                }
                deflate.sent()
            } else {
                result = Result { () throws(Errno) in try Self.writeFrame(socket, opcode, payload, 0, sendTimeoutMs) }
            }
            if case .failure = result {
                // Part of a frame may be on the wire: nothing may follow it.
                _ = closing.handle(.streamEnded)
                return .failed
            }
            return .sent
        }
        if outcome == .sent {
            metrics.messagesOut.add(1)
            metrics.bytesOut.add(payload.count)
        }
        return outcome
    }

    /// Sends a ping or a pong. Returns false when a close frame already went out, so this
    /// one must not.
    @discardableResult
    func sendControl(_ opcode: Opcode, _ payload: [UInt8]) throws(Errno) -> Bool {
        try writeLock.withLock { () throws(Errno) -> Bool in
            guard closing.handle(.frameToSend) == .send else { return false }
            try Self.writeFrame(socket, opcode, payload, sendTimeoutMs)
            return true
        }
    }

    /// Starts the closing handshake unless our close frame already went out; returns whether
    /// this call sent it.
    @discardableResult
    func sendClose(_ reason: CloseReason) -> Bool {
        let sent = try? writeLock.withLock { () throws(Errno) -> Bool in
            guard closing.handle(.serverCloses) == .send else { return false }
            try Self.writeFrame(socket, .connectionClose, reason.payload, sendTimeoutMs)
            return true
        }
        return sent ?? false
    }

    /// The peer's close frame arrived: answer it with its code unless ours already went out
    /// (RFC 6455 §5.5.1). Both close frames have then crossed, so the caller closes first.
    func receivedClose(_ code: CloseCode?) {
        _ = try? writeLock.withLock { () throws(Errno) in
            _ = closing.handle(.peerCloses)
            guard closing.handle(.serverCloses) == .send else { return }
            try Self.writeFrame(socket, .connectionClose, CloseReason.reply(to: code).payload, sendTimeoutMs)
        }
    }

    /// Like `sendClose`, but never waits: it gives up at once when another thread is mid-write,
    /// and when the socket buffer has no room (a peer that stopped reading while its thread
    /// sits in `recv`); shutdown must not spend a send timeout on each such peer. Nil means
    /// "busy, retry".
    func trySendClose(_ reason: CloseReason) -> Bool? {
        let payload = reason.payload
        var failed = false
        let sent = writeLock.tryLocked { () -> Bool? in
            if !opened { return nil }
            guard closing.handle(.serverCloses) == .send else { return false }
            failed = !sendWithoutWaiting(.connectionClose, payload)
            return !failed
        }
        // No room even for a close frame: the peer is not reading. End it now (1006) rather than
        // leave its thread in recv until shutdown's deadline. After the write lock, in the lock
        // order `failure` -> `writeLock` that the other failure paths use.
        if failed { failWrite() }
        return sent ?? nil
    }

    /// One small frame if the socket buffer takes all of it now. A frame cut short cannot be
    /// finished either, so the caller ends the stream (`trySendClose` shuts it down, the slow
    /// consumer path too). The write lock must be held.
    private func sendWithoutWaiting(_ opcode: Opcode, _ payload: [UInt8]) -> Bool {
        let frame = FrameHeader(fin: true, opcode: opcode, payloadLength: UInt64(payload.count)).encoded + payload
        let sent = try? Errno.retrying { Glibc.send(socket.fd, frame, frame.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        return sent == frame.count
    }

    /// Ends a connection whose queue overflowed: 1008 "slow consumer" if the frame fits in the
    /// socket buffer right now (never blocking the caller), then a shutdown that wakes both of
    /// its threads. Its own thread reports the code.
    func failSlowConsumer() {
        outbox?.close()
        let payload = CloseReason.slowConsumer.payload
        // The failure lock is held throughout, so `retire` cannot close the descriptor meanwhile.
        failure.locked {
            if failedWith != nil || socketRetired { return }
            failedWith = CloseReason.slowConsumer.code
            _ = writeLock.tryLocked { () -> Void in
                guard opened, closing.handle(.serverCloses) == .send else { return }
                _ = sendWithoutWaiting(.connectionClose, payload)
            }
            // Whatever the kernel still holds for this peer is dropped at close, not kept.
            socket.setAbortiveClose()
            _ = shutdown(socket.fd, Int32(SHUT_RDWR))
        }
    }

    /// Closes the socket for good, after making sure no other thread can touch its descriptor
    /// again (a closed fd number is soon reused by a new connection):
    /// 1. the outbox closes, so the writer thread stops taking messages;
    /// 2. a pending slow-consumer shutdown can no longer run;
    /// 3. our write side is shut, failing a write stalled on the peer, and under the write lock
    ///    the closing handshake ends, which bars any later write;
    /// 4. only then is the descriptor closed (after draining the peer's last bytes if asked).
    func retire(_ ending: SocketEnding, timeoutMilliseconds: Int) {
        outbox?.close()
        failure.locked { socketRetired = true }
        socket.shutdownWrite()
        writeLock.locked { _ = closing.handle(.streamEnded) }
        switch ending {
        case .drain: socket.drainAndClose(timeoutMilliseconds: timeoutMilliseconds)
        case .handshakeComplete: socket.closeUnlessPeerIsSending(timeoutMilliseconds: timeoutMilliseconds)
        case .abort: socket.close()
        }
    }

    /// Ends a connection whose write failed or stalled past the send timeout (the peer is gone
    /// or stopped reading): no close frame can get through, so the socket is shut down, which
    /// also wakes its reading thread. Reported as 1006.
    func failWrite() {
        failure.locked {
            if failedWith != nil || socketRetired { return }
            failedWith = .abnormalClosure
            socket.setAbortiveClose()
            _ = shutdown(socket.fd, Int32(SHUT_RDWR))
        }
    }

    /// The code another thread ended this connection with, if any.
    var failureCode: CloseCode? { failure.locked { failedWith } }

    /// Whether this side already started the closing handshake.
    var hasSentClose: Bool { writeLock.locked { closing.hasSentClose } }

    /// Writes the 101 response (and greeting) under the same lock; frames may follow it.
    func writeOpening(_ bytes: [UInt8]) throws(Errno) {
        try writeLock.withLock { () throws(Errno) in
            try socket.writeAll(bytes)
            opened = true
        }
    }

    /// A control frame (its payload is at most 125 bytes).
    private static func writeFrame(_ socket: Socket, _ opcode: Opcode, _ payload: [UInt8], _ timeoutMs: Int) throws(Errno) {
        try payload.withUnsafeBytes { p in Result { () throws(Errno) in try writeFrame(socket, opcode, p, 0, timeoutMs) } }.get()
    }

    private static func writeFrame(
        _ socket: Socket, _ opcode: Opcode, _ payload: UnsafeRawBufferPointer, _ reservedBits: UInt8, _ timeoutMs: Int
    ) throws(Errno) {
        let header = FrameHeader(fin: true, reservedBits: reservedBits, opcode: opcode, payloadLength: UInt64(payload.count))
        var bytes: (UInt64, UInt64) = (0, 0)
        try withUnsafeMutableBytes(of: &bytes) { buffer in
            let n = header.encode(into: buffer)
            return Result { () throws(Errno) in try socket.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<n]), payload, timeoutMs: timeoutMs) }
        }.get()
    }
}

/// Fan-out mode: drains a connection's outbox onto its socket until the queue closes or a
/// write fails (a write stalled past the send timeout ends the connection).
func writerThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let handle = Unmanaged<ConnectionHandle>.fromOpaque(argument!).takeRetainedValue()
    guard let outbox = handle.outbox else { return nil }
    while let message = outbox.pop() {
        // After our close frame the rest of the queue is dropped, message by message, until the
        // connection retires the queue.
        if message.bytes.withUnsafeBytes({ handle.writeMessage(message.opcode, $0) }) == .failed {
            // A failed or timed-out write: the peer is gone or not reading.
            handle.failSlowConsumer()
            break
        }
    }
    return nil
}
