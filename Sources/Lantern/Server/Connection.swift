#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// One client, served start to end on its own thread: HTTP requests until an upgrade,
/// then the WebSocket loop. All of the connection's I/O happens here; the protocol
/// decisions come from the pure types in Protocol/.
final class Connection {
    private let socket: Socket
    private let server: ServerContext
    private let limits: Limits
    private var buffer: ReadBuffer

    init(socket: Socket, server: ServerContext) {
        self.socket = socket
        self.server = server
        self.limits = server.configuration.limits
        buffer = ReadBuffer(capacity: max(16 << 10, limits.maxHeaderBytes))
    }

    deinit { buffer.deallocate() }

    /// Serves the connection until it ends, closes the socket and frees its slot.
    func run() {
        socket.setNoDelay()
        socket.setSendTimeout(milliseconds: limits.sendTimeoutMs)
        let ended = serveHTTP()
        // 1. The slot is free the moment the socket is closed...
        let active = server.releaseSlot()
        // 2. ...before the registry and the log say the connection is gone.
        if let (handle, code) = ended {
            let left = server.registry.remove(handle)
            server.log(.info, "ws-close id=\(handle.id) code=\(code.rawValue) open=\(left)")
        }
        if active == 0 {
            // The last connection left: hand freed arenas back to the system instead of keeping peaks.
            lantern_malloc_trim()
        }
    }

    // MARK: HTTP

    /// Serves requests until the connection closes; for a WebSocket, returns its handle and close code.
    private func serveHTTP() -> (ConnectionHandle, CloseCode)? {
        var deadline = MonotonicClock.nowMs() + limits.handshakeTimeoutMs
        while true {
            let parsed: (HTTPRequestHead, Int)?
            do {
                parsed = try HTTPRequestHead.parse(UnsafeRawBufferPointer(buffer.unread), maxBytes: limits.maxHeaderBytes)
            } catch {
                refuse(error, path: "-")
                return nil
            }
            if let (head, length) = parsed {
                buffer.consume(length)
                if head.path.elementsEqual("/ws".utf8) {
                    return upgrade(head)
                }
                let (response, keepOpen) = server.responder.respond(to: head)
                server.log(.info, "http \(text(head.method)) \(text(head.target)) \(statusOf(response))")
                guard (try? socket.writeAll(response)) != nil else { socket.close(); return nil }
                // A request body is never read, so the stream cannot be trusted after one;
                // a failed upgrade attempt ends the connection like any handshake failure.
                if !keepOpen || hasBody(head) || !head.values("upgrade").isEmpty {
                    socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
                    return nil
                }
                deadline = MonotonicClock.nowMs() + limits.keepAliveTimeoutMs
                continue
            }
            let remaining = deadline - MonotonicClock.nowMs()
            if remaining <= 0 {
                server.log(.info, "http timeout peer=\(socket.peerDescription())")
                socket.close()
                return nil
            }
            socket.setReceiveTimeout(milliseconds: remaining)
            do {
                if try buffer.fill(from: socket) <= 0 { socket.close(); return nil }
            } catch {
                if !error.isTimeout { socket.close(); return nil }
            }
        }
    }

    private func refuse(_ error: HandshakeError, path: String) {
        let bytes = HTTPResponse.plain(status: error.status, message: error.message) { r in
            switch error {
            case .unsupportedVersion: r.header("Sec-WebSocket-Version", "13")
            case .upgradeRequired: r.header("Upgrade", "websocket")
            case .methodNotAllowed: r.header("Allow", "GET")
            case .serviceUnavailable: r.header("Retry-After", "5")
            default: break
            }
        }
        server.log(.info, "http refused \(path) \(error.status) \(text(error.message))")
        _ = try? socket.writeAll(bytes)
        socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
    }

    private func hasBody(_ head: HTTPRequestHead) -> Bool {
        if !head.values("transfer-encoding").isEmpty { return true }
        return head.values("content-length").contains { !$0.allSatisfy { $0 == UInt8(ascii: "0") } }
    }

    // MARK: WebSocket

    private func upgrade(_ head: HTTPRequestHead) -> (ConnectionHandle, CloseCode)? {
        let accept: [UInt8]
        do {
            accept = try Handshake.validate(head)
        } catch {
            refuse(error, path: "/ws")
            return nil
        }
        let offers = ExtensionOffer.parse(head.values("sec-websocket-extensions"))
        let agreed = DeflateNegotiation.negotiate(offers, policy: server.configuration.deflate)
        var response = HTTPResponse(status: 101)
        response.header("Upgrade", "websocket")
        response.header("Connection", "Upgrade")
        response.header("Sec-WebSocket-Accept", bytes: accept)
        if let agreed { response.header("Sec-WebSocket-Extensions", bytes: agreed.response) }
        response.finish()
        var bytes = response.bytes
        let greeting = server.configuration.greeting
        if !greeting.isEmpty {
            // The greeting rides in the same write as the 101: one syscall, one packet.
            bytes.append(contentsOf: FrameHeader(fin: true, opcode: .text, payloadLength: UInt64(greeting.count)).encoded)
            bytes.append(contentsOf: greeting)
        }
        let handle = ConnectionHandle(id: server.nextID(), socket: socket)
        let open = server.registry.add(handle)
        server.log(.info, "ws-open id=\(handle.id) peer=\(socket.peerDescription()) open=\(open)")
        var code = CloseCode.abnormalClosure
        let deflate = agreed.map { PerMessageDeflate(parameters: $0, policy: server.configuration.deflate, budget: server.deflateBudget) }
        if (try? handle.writeRaw(bytes)) != nil {
            code = serveWebSocket(handle, deflate)
        } else {
            socket.close()
        }
        return (handle, code)
    }

    /// The frame loop; returns the close code to log once the socket is closed.
    private func serveWebSocket(_ handle: ConnectionHandle, _ deflate: PerMessageDeflate?) -> CloseCode {
        let compression = deflate != nil
        var decoder = FrameDecoder(rules: FrameRules(allowedReservedBits: compression ? FrameHeader.rsv1 : 0, requireMask: true))
        var assembler = MessageAssembler(maxMessageBytes: limits.maxMessageBytes, compressionNegotiated: compression)
        var heartbeat = Heartbeat(limits: limits, now: MonotonicClock.nowMs())
        socket.setReceiveTimeout(milliseconds: heartbeat.nextWaitMs)
        while true {
            do throws(ProtocolError) {
                while let (event, used) = try decoder.next(buffer.unread) {
                    buffer.consume(used)
                    switch event {
                    case .frameStart(let header): try assembler.frameStart(header)
                    case .payload(let chunk): try assembler.payload(UnsafeRawBufferPointer(chunk))
                    case .frameEnd:
                        guard let done = try assembler.frameEnd() else { continue }
                        if let code = try perform(done, &assembler, handle, deflate) { return code }
                    }
                }
            } catch {
                server.log(.info, "ws-fail id=\(handle.id) \(text(error.reason))")
                _ = handle.sendClose(error.closeCode, reason: error.reason)
                socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
                return error.closeCode
            }
            do {
                if try buffer.fill(from: socket) <= 0 {
                    socket.close()
                    return handle.hasSentClose ? .goingAway : .abnormalClosure
                }
                heartbeat.heard(now: MonotonicClock.nowMs())
            } catch {
                guard error.isTimeout else { socket.close(); return .abnormalClosure }
                switch heartbeat.timedOut(now: MonotonicClock.nowMs()) {
                case .ping:
                    guard (try? handle.send(.ping, [])) != nil else { socket.close(); return .abnormalClosure }
                case .close:
                    server.log(.info, "ws-idle id=\(handle.id)")
                    _ = handle.sendClose(.goingAway, reason: "idle timeout")
                    socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
                    return .goingAway
                case .wait:
                    break
                }
            }
            socket.setReceiveTimeout(milliseconds: heartbeat.nextWaitMs)
        }
    }

    /// Acts on one assembled event; returns a close code when the connection is over.
    private func perform(
        _ event: AssemblerEvent, _ assembler: inout MessageAssembler, _ handle: ConnectionHandle, _ deflate: PerMessageDeflate?
    ) throws(ProtocolError) -> CloseCode? {
        switch event {
        case .message(let opcode, let compressed):
            var sent: Bool?
            if compressed, let deflate {
                let plain = try deflate.inflate(assembler.message, isText: opcode == .text, limit: limits.maxMessageBytes)
                sent = echo(opcode, plain, handle, deflate)
                deflate.recycle(plain)
            } else {
                sent = echo(opcode, assembler.message, handle, deflate)
            }
            assembler.releaseMessage(keepingUpTo: 64 << 10)
            deflate?.releaseLargeBuffers()
            if sent == nil { socket.close(); return .abnormalClosure }
        case .ping:
            // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
            if (try? handle.send(.pong, assembler.control)) == nil { socket.close(); return .abnormalClosure }
        case .pong:
            break
        case .close(let code):
            // RFC 6455 §5.5.1: answer a close with a close (echoing the code), then end TCP.
            if !handle.hasSentClose {
                _ = try? handle.send(.connectionClose, ClosePayload.encode(code: code))
            }
            socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
            return code ?? .noStatusReceived
        }
        return nil
    }

    /// Sends a message back, compressed when negotiated and worth it; nil when the write failed.
    private func echo(_ opcode: Opcode, _ payload: [UInt8], _ handle: ConnectionHandle, _ deflate: PerMessageDeflate?) -> Bool? {
        payload.withUnsafeBytes { plain in
            if let deflate, deflate.deflate(plain) {
                // RFC 7692 §6: RSV1 on the (only) frame marks the message as compressed.
                return deflate.compressed.withUnsafeBytes { try? handle.send(opcode, $0, reservedBits: FrameHeader.rsv1) }
            }
            return try? handle.send(opcode, plain)
        }
    }

    private func text<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 { String(decoding: bytes, as: UTF8.self) }
    private func text(_ s: StaticString) -> String { String(decoding: s.utf8Bytes, as: UTF8.self) }

    private func statusOf(_ response: [UInt8]) -> String {
        response.count >= 12 ? text(response[9..<12]) : "?"
    }
}
