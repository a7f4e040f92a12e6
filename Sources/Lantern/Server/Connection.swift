#if canImport(Glibc)
import Glibc
#endif

/// Receive buffer sizes: small while idle, large once big frames flow.
enum ReadBufferSizes {
    /// A 64 KiB message and its frame header fit whole, so it can be echoed from the buffer.
    static let large = (64 << 10) + FrameHeader.maxEncodedLength
}

/// One client, served start to end by one worker thread, stage by stage: HTTP requests
/// (HTTPFront.swift) until an upgrade (SessionOpening.swift), then the WebSocket session
/// (WebSocketSession.swift). This file holds what the stages share: the socket, the receive
/// buffer and its timeout. The protocol decisions come from the pure types in Protocol/.
final class Connection<Handler: MessageHandler> {
    let socket: Socket
    /// The connection's own peer (a proxy, when one is in front).
    let peer: PeerAddress
    /// Who sent the current request: `peer`, or the client a trusted proxy names.
    var client: PeerAddress
    let server: ServerContext
    let handler: Handler
    let limits: Limits
    var buffer: ReadBuffer
    /// The socket's SO_RCVTIMEO, so it is set only when it must change.
    private var receiveTimeoutMs: Int
    private var busyPoll: BusyPoll

    /// `receiveTimeoutMs`: the timeout the socket inherited from the listener.
    init(socket: Socket, peer: sockaddr_storage, receiveTimeoutMs: Int, server: ServerContext, handler: Handler) {
        self.socket = socket
        self.peer = SocketAddress.peer(peer)
        client = self.peer
        self.receiveTimeoutMs = receiveTimeoutMs
        self.server = server
        self.handler = handler
        self.limits = server.configuration.limits
        buffer = ReadBuffer(capacity: 1 << 10, growLimit: limits.maxHeaderBytes)
        busyPoll = BusyPoll(budgetMicroseconds: limits.busyPollMicroseconds)
    }

    deinit { buffer.deallocate() }

    /// Serves the connection until it ends, closes the socket and frees its slot.
    func run() {
        // TCP_NODELAY and the send timeout come from the listener (`Listener.setInheritedOptions`).
        let ended = serveHTTP()
        // 1. The slot is free the moment the socket is closed...
        server.releaseSlot()
        // 2. ...before the registry and the log say the connection is gone.
        if let (handle, code) = ended {
            let left = server.registry.remove(handle)
            server.log(.info, "ws-close id=\(handle.id) code=\(code.rawValue) open=\(left)")
        }
    }

    /// Reads more into `buffer` (see `ReadBuffer.fill`). Between messages, polls first.
    func readMore(afterAnswering: Bool) throws(Errno) -> Int {
        if buffer.isEmpty, let polled = try busyPoll.read(into: &buffer, from: socket, afterAnswering: afterAnswering) {
            return polled
        }
        return try buffer.fill(from: socket)
    }

    /// Waits at most `ms` in the next read (0: no limit), for a read that must end by then.
    /// A shorter timeout already in place only means one more pass through the caller's loop.
    func limitReceiveTimeout(to ms: Int) {
        if receiveTimeoutMs == 0 || receiveTimeoutMs > ms { setReceiveTimeout(ms) }
    }

    /// Only when it changes: a setsockopt per message would cost a syscall per echo.
    func setReceiveTimeout(_ ms: Int) {
        guard ms != receiveTimeoutMs else { return }
        receiveTimeoutMs = ms
        socket.setReceiveTimeout(milliseconds: ms)
    }

    func text<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 { String(decoding: bytes, as: UTF8.self) }
    func text(_ s: StaticString) -> String { String(decoding: s.utf8Bytes, as: UTF8.self) }
}
