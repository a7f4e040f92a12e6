#if canImport(Glibc)
import Glibc
#endif

/// The shared face of one WebSocket connection: its socket's single writer.
/// The connection's own thread and other threads (shutdown, later broadcast) send through it,
/// one at a time, and nothing is sent after a close frame.
final class ConnectionHandle: @unchecked Sendable {
    let id: Int
    let socket: Socket
    private let writeLock = Lock()
    /// Guarded by `writeLock`.
    private var closeSent = false

    init(id: Int, socket: Socket) {
        self.id = id
        self.socket = socket
    }

    /// Sends one unfragmented frame (server frames are never masked, RFC 6455 §5.1).
    /// Returns false when a close frame already went out, so this frame must not.
    @discardableResult
    func send(_ opcode: Opcode, _ payload: UnsafeRawBufferPointer, reservedBits: UInt8 = 0) throws(Errno) -> Bool {
        try writeLock.withLock { () throws(Errno) -> Bool in
            if closeSent { return false }
            if opcode == .connectionClose { closeSent = true }
            try Self.writeFrame(socket, opcode, payload, reservedBits)
            return true
        }
    }

    func send(_ opcode: Opcode, _ payload: [UInt8]) throws(Errno) -> Bool {
        let result = payload.withUnsafeBytes { p in Result { () throws(Errno) -> Bool in try send(opcode, p) } }
        return try result.get()
    }

    /// Sends a close frame unless one was sent already; returns whether this call sent it.
    func sendClose(_ code: CloseCode?, reason: StaticString = "") -> Bool {
        (try? send(.connectionClose, ClosePayload.encode(code: code, reason: reason))) ?? false
    }

    /// Like `sendClose`, but gives up at once when another thread is mid-write (shutdown must
    /// not queue behind a write stalled on a peer that stopped reading). Nil means "busy, retry".
    func trySendClose(_ code: CloseCode, reason: StaticString) -> Bool? {
        let payload = ClosePayload.encode(code: code, reason: reason)
        return writeLock.tryLocked { () -> Bool in
            if closeSent { return false }
            closeSent = true
            let sent = payload.withUnsafeBytes { p in Result { () throws(Errno) in try Self.writeFrame(socket, .connectionClose, p, 0) } }
            if case .failure = sent { return false }
            return true
        }
    }

    /// Whether this side already started the closing handshake.
    var hasSentClose: Bool { writeLock.locked { closeSent } }

    /// Writes raw bytes (the 101 response) under the same lock.
    func writeRaw(_ bytes: [UInt8]) throws(Errno) {
        try writeLock.withLock { () throws(Errno) in try socket.writeAll(bytes) }
    }

    private static func writeFrame(_ socket: Socket, _ opcode: Opcode, _ payload: UnsafeRawBufferPointer, _ reservedBits: UInt8) throws(Errno) {
        let header = FrameHeader(fin: true, reservedBits: reservedBits, opcode: opcode, payloadLength: UInt64(payload.count))
        var bytes: (UInt64, UInt64) = (0, 0)
        try withUnsafeMutableBytes(of: &bytes) { buffer in
            let n = header.encode(into: buffer)
            return Result { () throws(Errno) in try socket.writeAll(UnsafeRawBufferPointer(rebasing: buffer[..<n]), payload) }
        }.get()
    }
}
