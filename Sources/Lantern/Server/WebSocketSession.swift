/// How a WebSocket session ended: the close code to report and how to close the socket.
struct SessionEnd {
    var code: CloseCode
    var socket: SocketEnding

    /// The peer vanished or broke the stream: no close frame either way (1006).
    static let abnormal = SessionEnd(code: .abnormalClosure, socket: .abort)
}

/// The WebSocket stage of a connection: reads what the client sends, hands each message to
/// the handler, answers pings and closes, keeps the heartbeat and the receive budget.
extension Connection {
    /// The session loop; returns when the connection is over.
    func serveWebSocket(_ session: Session, _ deflate: PerMessageDeflate?) -> SessionEnd {
        let handle = session.handle
        var reader = MessageReader(maxMessageBytes: limits.maxMessageBytes, compressionNegotiated: deflate != nil)
        let started = MonotonicClock.nowMs()
        var heartbeat = Heartbeat(limits: limits, now: started)
        var charged = 0
        defer { _ = server.messageBudget.update(from: charged, to: 0) }
        setReceiveTimeout(heartbeat.nextWaitMs(now: started))
        while true {
            let (end, answered) = handleBuffered(&reader, session, deflate)
            if let end { return end }
            if let end = charge(reader.heldBytes, &charged, handle) { return end }
            // A big frame is on its way: read it in large pieces (one growth per connection).
            if reader.remainingFramePayload > UInt64(buffer.capacity) && buffer.capacity < ReadBufferSizes.large {
                buffer.reserve(ReadBufferSizes.large)
            }
            if let end = awaitMore(&heartbeat, afterAnswering: answered, handle) { return end }
        }
    }

    /// Handles every whole event the buffer holds. Returns how the session ends if it does,
    /// and whether anything was handled (the busy poll waits longer after an answer).
    private func handleBuffered(
        _ reader: inout MessageReader, _ session: Session, _ deflate: PerMessageDeflate?
    ) -> (end: SessionEnd?, answered: Bool) {
        var answered = false
        do throws(ProtocolError) {
            while true {
                let (event, used) = try reader.next(buffer.unread)
                // Dropped from the buffer, not overwritten: a message's bytes may be read in place
                // until the next `fill`, which comes after it is handled.
                buffer.consume(used)
                guard let event else { return (nil, answered) }
                if let end = try perform(event, &reader, session, deflate) { return (end, answered) }
                answered = true
            }
        } catch {
            server.log(.info, "ws-fail id=\(session.handle.id) \(text(error.reason))")
            return (close(session.handle, CloseReason(error)), answered)
        }
    }

    /// Acts on one event; returns how the session ends when it does.
    private func perform(
        _ event: InboundEvent, _ reader: inout MessageReader, _ session: Session, _ deflate: PerMessageDeflate?
    ) throws(ProtocolError) -> SessionEnd? {
        switch event {
        case .message(let opcode, let compressed):
            server.metrics.messagesIn.add(1)
            var end: SessionEnd? = nil
            if compressed, let deflate {
                end = try deliverInflated(opcode, &reader, session, deflate)
            } else {
                reader.withMessage { bytes in
                    server.metrics.bytesIn.add(bytes.count)
                    handler.received(Message(opcode: opcode, bytes: bytes), on: session)
                }
            }
            // Keep a typical buffer for the next message (reallocating 64 KiB per echo costs page
            // faults with musl), not the peak of a rare 1 MiB one.
            reader.messageHandled(keepingUpTo: 128 << 10)
            return end
        case .ping:
            // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
            if (try? session.handle.sendControl(.pong, reader.control)) == nil { return .abnormal }
            return nil
        case .pong:
            return nil
        case .close(let code):
            // RFC 6455 §5.5.1: answer a close with a close (echoing the code), then end TCP.
            session.handle.receivedClose(code)
            return SessionEnd(code: code ?? .noStatusReceived, socket: .handshakeComplete)
        }
    }

    /// Inflates a compressed message and hands it to the handler.
    private func deliverInflated(
        _ opcode: Opcode, _ reader: inout MessageReader, _ session: Session, _ deflate: PerMessageDeflate
    ) throws(ProtocolError) -> SessionEnd? {
        let metrics = server.metrics
        let limit = limits.maxMessageBytes
        let inflated = reader.withMessage { wire in
            metrics.compressedBytesIn.add(wire.count)
            return Result { () throws(ProtocolError) in try deflate.inflate(wire, isText: opcode == .text, limit: limit) }
        }
        let plain = try inflated.get()
        // The inflated message shares --max-buffered-bytes while it is handled: a client that
        // stops reading can hold it for the send timeout, and ~1 KB on the wire inflates to
        // 1 MiB (an echo sent uncompressed, e.g. at window 8, stays that big). Only what passes
        // the connection's uncounted allowance, after what the reader already holds of it.
        let allowance = max(0, MessageBudget.unchargedBytesPerConnection - reader.heldBytes)
        let held = max(0, plain.count - allowance)
        guard held == 0 || server.messageBudget.update(from: 0, to: held) else {
            deflate.recycle(plain)
            return closeOverBudget(session.handle, "an inflated message would hold, with the others,")
        }
        defer { if held > 0 { _ = server.messageBudget.update(from: held, to: 0) } }
        metrics.inflatedBytesIn.add(plain.count)
        metrics.bytesIn.add(plain.count)
        plain.withUnsafeBytes { handler.received(Message(opcode: opcode, bytes: $0), on: session) }
        deflate.recycle(plain)
        return nil
    }

    /// Charges what the reader holds of unfinished messages to --max-buffered-bytes (at most
    /// one read more than last time).
    private func charge(_ heldBytes: Int, _ charged: inout Int, _ handle: ConnectionHandle) -> SessionEnd? {
        let held = max(0, heldBytes - MessageBudget.unchargedBytesPerConnection)
        guard held != charged else { return nil }
        guard server.messageBudget.update(from: charged, to: held) else {
            return closeOverBudget(handle, "messages being received would hold")
        }
        charged = held
        return nil
    }

    /// Reads more, or acts on the heartbeat when the read times out; returns how the session
    /// ends when it does.
    private func awaitMore(_ heartbeat: inout Heartbeat, afterAnswering: Bool, _ handle: ConnectionHandle) -> SessionEnd? {
        let now: Int64
        do {
            if try readMore(afterAnswering: afterAnswering) <= 0 {
                return SessionEnd(code: handle.hasSentClose ? .goingAway : .abnormalClosure, socket: .abort)
            }
            now = MonotonicClock.nowMs()
            heartbeat.heard(now: now)
        } catch {
            guard error.isTimeout else { return .abnormal }
            now = MonotonicClock.nowMs()
            switch heartbeat.timedOut(now: now) {
            case .ping:
                guard (try? handle.sendControl(.ping, [])) != nil else { return .abnormal }
            case .close:
                server.log(.info, "ws-idle id=\(handle.id)")
                return close(handle, .idleTimeout)
            case .wait:
                break
            }
        }
        // The same `now` as `heard`: after a read the wait stays the same value, so the
        // receive timeout is not set again.
        setReceiveTimeout(heartbeat.nextWaitMs(now: now))
        return nil
    }

    /// 1013 for the connection that would pass --max-buffered-bytes; `what` completes the log line.
    private func closeOverBudget(_ handle: ConnectionHandle, _ what: String) -> SessionEnd {
        server.log(.warn, "ws-busy id=\(handle.id): \(what) more than \(server.messageBudget.limitBytes) bytes (--max-buffered-bytes), closing 1013")
        return close(handle, .serverBusy)
    }

    /// Starts the closing handshake; the socket then drains until the peer's close arrives.
    private func close(_ handle: ConnectionHandle, _ reason: CloseReason) -> SessionEnd {
        handle.sendClose(reason)
        return SessionEnd(code: reason.code ?? .noStatusReceived, socket: .drain)
    }
}
