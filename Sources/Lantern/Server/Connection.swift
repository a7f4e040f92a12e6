#if canImport(Glibc)
import Glibc
#endif

/// Receive buffer sizes: small while idle, large once big frames flow.
enum ReadBufferSizes {
    /// A 64 KiB message and its frame header fit whole, so it can be echoed from the buffer.
    static let large = (64 << 10) + FrameHeader.maxEncodedLength
}

/// One client, served start to end by one worker thread: HTTP requests until an upgrade,
/// then the WebSocket loop. All of the connection's I/O happens here; the protocol
/// decisions come from the pure types in Protocol/.
final class Connection<Handler: MessageHandler> {
    private let socket: Socket
    private let peer: sockaddr_storage
    /// The socket's SO_RCVTIMEO, so it is set only when it must change.
    private var receiveTimeoutMs: Int
    private var busyPoll: BusyPoll
    private let server: ServerContext
    private let handler: Handler
    private let limits: Limits
    private var buffer: ReadBuffer

    /// `receiveTimeoutMs`: the timeout the socket inherited from the listener.
    init(socket: Socket, peer: sockaddr_storage, receiveTimeoutMs: Int, server: ServerContext, handler: Handler) {
        self.socket = socket
        self.peer = peer
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

    // MARK: HTTP

    /// Serves requests until the connection closes; for a WebSocket, returns its handle and close code.
    private func serveHTTP() -> (ConnectionHandle, CloseCode)? {
        var deadline = MonotonicClock.nowMs() + Int64(limits.handshakeTimeoutMs)
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
                let body: RequestBody
                do { body = try head.checkMessage() } catch {
                    refuse(error, path: text(head.path), isHead: head.isHead)
                    return nil
                }
                if head.path.elementsEqual("/ws".utf8) {
                    return upgrade(head)
                }
                let (response, keepOpen) = operationsResponse(head) ?? server.responder.respond(to: head)
                server.metrics.httpRequests.add(1)
                server.log(.info, "http \(text(head.method)) \(text(head.target)) \(statusOf(response))")
                // A request body is never read, so the stream cannot be trusted after one;
                // a failed upgrade attempt ends the connection like any handshake failure.
                let closing = !keepOpen || body != .none || !head.values("upgrade").isEmpty
                let announced = HTTPResponse.announcing(response, closing: closing, minorVersion: head.minorVersion)
                guard (try? socket.writeAll(announced)) != nil else { socket.close(); return nil }
                if closing {
                    socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
                    return nil
                }
                deadline = MonotonicClock.nowMs() + Int64(limits.keepAliveTimeoutMs)
                continue
            }
            let remaining = MonotonicClock.msUntil(deadline)
            if remaining <= 0 {
                server.log(.info, "http timeout peer=\(SocketAddress.describe(peer))")
                socket.close()
                return nil
            }
            // A shorter timeout already in place only means one more pass through this loop
            // (0 is no timeout at all).
            if receiveTimeoutMs == 0 || receiveTimeoutMs > remaining { setReceiveTimeout(remaining) }
            do {
                if try readMore(afterAnswering: false) <= 0 { socket.close(); return nil }
            } catch {
                if !error.isTimeout { socket.close(); return nil }
            }
        }
    }

    /// GET /healthz and GET /metrics (Prometheus text format), and `OPTIONS *`.
    private func operationsResponse(_ head: HTTPRequestHead) -> (bytes: [UInt8], keepOpen: Bool)? {
        if head.target == [UInt8(ascii: "*")] {
            // RFC 9110 §9.3.7: what the server as a whole supports.
            var r = HTTPResponse(status: 200)
            r.header("Allow", "GET, HEAD, OPTIONS")
            r.header("Content-Length", "0")
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        let isHead = head.isHead
        let isHealth = head.path.elementsEqual("/healthz".utf8)
        guard isHealth || head.path.elementsEqual("/metrics".utf8) else { return nil }
        guard head.method == Array("GET".utf8) || isHead else {
            return (HTTPResponse.plain(status: 405, message: "method not allowed") { $0.header("Allow", "GET, HEAD") }, false)
        }
        let body: [UInt8]
        let type: StaticString
        if isHealth {
            body = Array("ok\n".utf8)
            type = "text/plain; charset=utf-8"
        } else {
            let text = server.metrics.render(
                openConnections: server.registry.count, activeConnections: server.active, deflateBytes: server.deflateBudget.used)
            body = Array(text.utf8)
            type = "text/plain; version=0.0.4; charset=utf-8"
        }
        var r = HTTPResponse(status: 200)
        r.header("Content-Type", type)
        r.header("Content-Length", String(body.count))
        r.header("Cache-Control", "no-store")
        body.withUnsafeBytes { r.finish(body: isHead ? nil : $0) }
        return (r.bytes, head.keepAlive)
    }

    /// Answers `error` and closes; after HEAD the response has no body (RFC 9110 §9.3.2).
    private func refuse(_ error: HandshakeError, path: String, isHead: Bool = false) {
        server.metrics.refused(status: error.status)
        // RFC 9110 §15.5.22 and §7.8: a 426 names the protocol to upgrade to, and a sender of
        // Upgrade lists it in Connection too.
        let upgrading = error.status == 426
        let bytes = HTTPResponse.plain(status: error.status, message: error.message, connection: upgrading ? "Upgrade, close" : "close",
                                       withBody: !isHead) { r in
            if upgrading { r.header("Upgrade", "websocket") }
            switch error {
            case .unsupportedVersion: r.header("Sec-WebSocket-Version", "13")
            case .methodNotAllowed: r.header("Allow", "GET")
            case .serviceUnavailable: r.header("Retry-After", "5")
            default: break
            }
        }
        server.log(.info, "http refused \(path) \(error.status) \(text(error.message))")
        _ = try? socket.writeAll(bytes)
        socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
    }

    // MARK: WebSocket

    private func upgrade(_ head: HTTPRequestHead) -> (ConnectionHandle, CloseCode)? {
        let accept: [UInt8]
        do throws(HandshakeError) {
            accept = try Handshake.validate(head)
            let origin = try head.single("origin")
            let verdict = server.configuration.origins.verdict(origin: origin, host: head.authority)
            guard verdict == .allowed else {
                let shown = text(origin ?? [])
                // For a page of this very host, say why and what to do about it.
                let why = verdict == .publicName
                    ? ": same host, but a public DNS name (DNS rebinding guard); allow it with --allow-origin \(shown)" : ""
                server.log(.warn, "ws refused origin=\(shown)\(why)")
                throw HandshakeError.forbidden
            }
        } catch {
            refuse(error, path: "/ws", isHead: head.isHead)
            return nil
        }
        let offers = ExtensionOffer.parse(head.values("sec-websocket-extensions"))
        // The client may send compressed messages at any time once deflate is agreed, so its
        // inflater cannot be refused later the way our compressor can: its memory is promised
        // now, and deflate is agreed only if the budget still has room for that promise.
        let budget = server.deflateBudget
        let negotiated = DeflateNegotiation.negotiate(offers, policy: server.configuration.deflate)
        let inflaterAccount = negotiated.flatMap { budget.reserve(Decompressor.estimatedBytes(windowBits: $0.receiveWindowBits)) }
        let agreed = inflaterAccount == nil ? nil : negotiated
        var response = HTTPResponse(status: 101)
        response.header("Upgrade", "websocket")
        response.header("Connection", "Upgrade")
        response.header("Sec-WebSocket-Accept", bytes: accept)
        if let agreed { response.header("Sec-WebSocket-Extensions", bytes: agreed.response) }
        response.finish()
        // RFC 9110 §7.8: a client that expects 100-continue gets it before the 101.
        var bytes = head.hasToken("expect", "100-continue") ? Array("HTTP/1.1 100 Continue\r\n\r\n".utf8) : []
        bytes.append(contentsOf: response.bytes)
        let greeting = server.configuration.greeting
        if !greeting.isEmpty {
            // The greeting rides in the same write as the 101: one syscall, one packet.
            bytes.append(contentsOf: FrameHeader(fin: true, opcode: .text, payloadLength: UInt64(greeting.count)).encoded)
            bytes.append(contentsOf: greeting)
        }
        let deflate = agreed.map {
            PerMessageDeflate(parameters: $0, policy: server.configuration.deflate, budget: budget, inflaterAccount: inflaterAccount)
        }
        let outbox = handler.fansOut ? Outbox(limitBytes: limits.maxQueuedBytes) : nil
        let handle = ConnectionHandle(id: server.nextID(), socket: socket, deflate: deflate, metrics: server.metrics, outbox: outbox, sendTimeoutMs: limits.sendTimeoutMs)
        server.metrics.upgrades.add(1)
        // Registered before the 101 goes out: once a client holds its 101, the count includes it.
        let open = server.registry.add(handle)
        server.log(.info, "ws-open id=\(handle.id) peer=\(SocketAddress.describe(peer)) open=\(open)")
        guard (try? handle.writeOpening(bytes)) != nil else {
            // A broadcast may already have failed it as a slow consumer (1008) before its 101.
            return endBeforeServing(handle, handle.failureCode ?? .abnormalClosure)
        }
        if !greeting.isEmpty {
            server.metrics.messagesOut.add(1)
            server.metrics.bytesOut.add(greeting.count)
        }
        if outbox != nil {
            // Fan-out: keep the kernel's share of a stalled peer's backlog small, so the
            // bounded queue (not megabytes of socket buffer) decides when it is too slow.
            socket.setSendBufferSize(128 << 10)
        }
        if outbox != nil && !startWriter(handle) { return endBeforeServing(handle, .internalError) }
        // Upgraded while the server is stopping: its shutdown snapshot may have missed us.
        if server.isStopping { _ = handle.sendClose(.goingAway, reason: "server shutting down") }
        let session = Session(handle: handle, hub: server.hub)
        handler.opened(session)
        var (code, ending) = serveWebSocket(session, deflate)
        // Another thread may have ended it first (slow consumer in fan-out mode).
        if let failure = handle.failureCode {
            code = failure
            ending = .abort
        }
        handle.retire(ending, timeoutMilliseconds: limits.closeTimeoutMs)
        server.metrics.closed(code)
        handler.closed(session, code: code)
        return (handle, code)
    }

    /// Ends a connection that never reached its message loop; its close still counts in /metrics.
    private func endBeforeServing(_ handle: ConnectionHandle, _ code: CloseCode) -> (ConnectionHandle, CloseCode) {
        handle.retire(.abort, timeoutMilliseconds: 0)
        server.metrics.closed(code)
        return (handle, code)
    }

    private func startWriter(_ handle: ConnectionHandle) -> Bool {
        startDetachedThread(Unmanaged.passRetained(handle).toOpaque(), stackBytes: 64 << 10, entry: writerThreadMain) {
            Unmanaged<ConnectionHandle>.fromOpaque($0).release()
        }
    }

    /// The frame loop; returns the close code to log and how to close the socket.
    private func serveWebSocket(_ session: Session, _ deflate: PerMessageDeflate?) -> (CloseCode, SocketEnding) {
        let handle = session.handle
        let compression = deflate != nil
        var decoder = FrameDecoder(rules: FrameRules(allowedReservedBits: compression ? FrameHeader.rsv1 : 0, requireMask: true))
        var assembler = MessageAssembler(maxMessageBytes: limits.maxMessageBytes, compressionNegotiated: compression)
        let started = MonotonicClock.nowMs()
        var heartbeat = Heartbeat(limits: limits, now: started)
        var charged = 0
        defer { _ = server.messageBudget.update(from: charged, to: 0) }
        setReceiveTimeout(heartbeat.nextWaitMs(now: started))
        while true {
            var handledMessage = false
            do throws(ProtocolError) {
                // A whole message's payload left in the receive buffer (unmasked in place). It stays
                // valid until the next `fill`, which comes after the message is handled.
                var inPlace: UnsafeRawBufferPointer? = nil
                while let (event, used) = try decoder.next(buffer.unread) {
                    buffer.consume(used)
                    switch event {
                    case .frameStart(let header): try assembler.frameStart(header)
                    case .payload(let chunk):
                        let whole = UnsafeRawBufferPointer(chunk)
                        if try assembler.payloadInPlace(whole) { inPlace = whole }
                    case .frameEnd:
                        guard let done = try assembler.frameEnd() else { continue }
                        defer { inPlace = nil }
                        if let ended = try perform(done, &assembler, inPlace, session, deflate) { return ended }
                        handledMessage = true
                    }
                }
            } catch {
                server.log(.info, "ws-fail id=\(handle.id) \(text(error.reason))")
                _ = handle.sendClose(error.closeCode, reason: error.reason)
                return (error.closeCode, .drain)
            }
            // Charge what the assembler now holds (at most one read more than last time).
            let held = max(0, assembler.heldBytes - MessageBudget.unchargedBytesPerConnection)
            if held != charged {
                guard server.messageBudget.update(from: charged, to: held) else {
                    return closeOverBudget(handle, "messages being received would hold")
                }
                charged = held
            }
            // A big frame is on its way: read it in large pieces (one growth per connection).
            if decoder.remainingPayload > UInt64(buffer.capacity) && buffer.capacity < ReadBufferSizes.large {
                buffer.reserve(ReadBufferSizes.large)
            }
            let now: Int64
            do {
                if try readMore(afterAnswering: handledMessage) <= 0 {
                    return (handle.hasSentClose ? .goingAway : .abnormalClosure, .abort)
                }
                now = MonotonicClock.nowMs()
                heartbeat.heard(now: now)
            } catch {
                guard error.isTimeout else { return (.abnormalClosure, .abort) }
                now = MonotonicClock.nowMs()
                switch heartbeat.timedOut(now: now) {
                case .ping:
                    guard (try? handle.send(.ping, [])) != nil else { return (.abnormalClosure, .abort) }
                case .close:
                    server.log(.info, "ws-idle id=\(handle.id)")
                    _ = handle.sendClose(.goingAway, reason: "idle timeout")
                    return (.goingAway, .drain)
                case .wait:
                    break
                }
            }
            // The same `now` as `heard`: after a read the wait stays the same value, so the
            // receive timeout is not set again.
            setReceiveTimeout(heartbeat.nextWaitMs(now: now))
        }
    }

    /// 1013 for the connection that would pass --max-buffered-bytes; `what` completes the log line.
    private func closeOverBudget(_ handle: ConnectionHandle, _ what: String) -> (CloseCode, SocketEnding) {
        server.log(.warn, "ws-busy id=\(handle.id): \(what) more than \(server.messageBudget.limitBytes) bytes (--max-buffered-bytes), closing 1013")
        _ = handle.sendClose(.tryAgainLater, reason: "server busy, try again later")
        return (.tryAgainLater, .drain)
    }

    /// Acts on one assembled event; returns how the connection ends when it does. A message's
    /// bytes are `inPlace` when the assembler left them in the receive buffer.
    private func perform(
        _ event: AssemblerEvent, _ assembler: inout MessageAssembler, _ inPlace: UnsafeRawBufferPointer?,
        _ session: Session, _ deflate: PerMessageDeflate?
    ) throws(ProtocolError) -> (CloseCode, SocketEnding)? {
        let handle = session.handle
        switch event {
        case .message(let opcode, let compressed):
            let metrics = server.metrics
            metrics.messagesIn.add(1)
            if compressed, let deflate {
                let inflated = Self.withBytes(inPlace, assembler.message) { wire in
                    metrics.compressedBytesIn.add(wire.count)
                    return Result { () throws(ProtocolError) in try deflate.inflate(wire, isText: opcode == .text, limit: limits.maxMessageBytes) }
                }
                let plain = try inflated.get()
                // The inflated message shares --max-buffered-bytes while it is handled: a client
                // that stops reading can hold it for the send timeout, and ~1 KB on the wire
                // inflates to 1 MiB (an echo sent uncompressed, e.g. at window 8, stays that big).
                // Only what passes the connection's uncounted allowance, after what the
                // assembler already holds of it.
                let allowance = max(0, MessageBudget.unchargedBytesPerConnection - assembler.heldBytes)
                let held = max(0, plain.count - allowance)
                guard held == 0 || server.messageBudget.update(from: 0, to: held) else {
                    deflate.recycle(plain)
                    return closeOverBudget(handle, "an inflated message would hold, with the others,")
                }
                defer { if held > 0 { _ = server.messageBudget.update(from: held, to: 0) } }
                metrics.inflatedBytesIn.add(plain.count)
                metrics.bytesIn.add(plain.count)
                plain.withUnsafeBytes { handler.received(Message(opcode: opcode, bytes: $0), on: session) }
                deflate.recycle(plain)
            } else {
                Self.withBytes(inPlace, assembler.message) { bytes in
                    metrics.bytesIn.add(bytes.count)
                    handler.received(Message(opcode: opcode, bytes: bytes), on: session)
                }
            }
            // Keep a typical buffer for the next message (reallocating 64 KiB per echo costs page
            // faults with musl), not the peak of a rare 1 MiB one.
            assembler.releaseMessage(keepingUpTo: 128 << 10)
        case .ping:
            // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
            if (try? handle.send(.pong, assembler.control)) == nil { return (.abnormalClosure, .abort) }
        case .pong:
            break
        case .close(let code):
            // RFC 6455 §5.5.1: answer a close with a close (echoing the code), then end TCP.
            if !handle.hasSentClose {
                _ = try? handle.send(.connectionClose, ClosePayload.encode(code: code))
            }
            return (code ?? .noStatusReceived, .handshakeComplete)
        }
        return nil
    }

    private static func withBytes<R>(_ inPlace: UnsafeRawBufferPointer?, _ copied: [UInt8], _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let inPlace { return body(inPlace) }
        return copied.withUnsafeBytes(body)
    }

    /// Reads more into `buffer` (see `ReadBuffer.fill`). Between messages, polls first.
    private func readMore(afterAnswering: Bool) throws(Errno) -> Int {
        if buffer.isEmpty, let polled = try busyPoll.read(into: &buffer, from: socket, afterAnswering: afterAnswering) {
            return polled
        }
        return try buffer.fill(from: socket)
    }

    /// Only when it changes: a setsockopt per message would cost a syscall per echo.
    private func setReceiveTimeout(_ ms: Int) {
        guard ms != receiveTimeoutMs else { return }
        receiveTimeoutMs = ms
        socket.setReceiveTimeout(milliseconds: ms)
    }

    private func text<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 { String(decoding: bytes, as: UTF8.self) }
    private func text(_ s: StaticString) -> String { String(decoding: s.utf8Bytes, as: UTF8.self) }

    private func statusOf(_ response: [UInt8]) -> String {
        response.count >= 12 ? text(response[9..<12]) : "?"
    }
}
