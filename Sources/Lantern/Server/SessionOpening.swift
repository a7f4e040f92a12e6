/// The upgrade stage of a connection: the pure decision (`UpgradeDecision`), then the I/O that
/// opens the session (deflate memory, the 101 and greeting, registry, writer thread), the
/// session itself and its teardown.
extension Connection {
    /// Refuses the upgrade, or serves the WebSocket to its end and returns its handle and close code.
    func upgrade(_ head: HTTPRequestHead) -> (ConnectionHandle, CloseCode)? {
        let agreement: UpgradeAgreement
        do throws(UpgradeRefusal) {
            agreement = try UpgradeDecision.accept(
                head, origins: server.configuration.origins, deflate: server.configuration.deflate, access: server.access?.check(client))
        } catch {
            if let origin = error.origin { logRefused(origin: origin.value, origin.verdict) }
            if server.access != nil, error.error.isAccessRefusal { countAccessRefusal(error.access) }
            refuse(error.error, path: "/ws", isHead: head.isHead)
            return nil
        }
        let deflate = reserveDeflate(agreement.deflate)
        let handle = register(deflate)
        if let code = open(handle, agreement, deflate) {
            // Never reached its message loop; its close still counts in /metrics.
            handle.retire(.abort, timeoutMilliseconds: 0)
            server.metrics.closed(code)
            return (handle, code)
        }
        var session = Session(handle: handle, hub: server.hub)
        // Not once the server is stopping: shutdown may already have ended the programs it saw.
        if let program = server.configuration.program, !server.isStopping, let child = startProgram(program, handle, head) {
            session.program = ProgramLink(child: child, sendTimeoutMs: limits.sendTimeoutMs, log: server.log)
        }
        handler.opened(session)
        var end = serveWebSocket(session, deflate)
        // Another thread may have ended it first (slow consumer in fan-out mode).
        if let failure = handle.failureCode { end = SessionEnd(code: failure, socket: .abort) }
        handle.retire(end.socket, timeoutMilliseconds: limits.closeTimeoutMs)
        // After the socket: the client is not kept waiting while the program winds down.
        if let child = session.program?.child { endProgram(child) }
        server.metrics.closed(end.code)
        handler.closed(session, code: end.code)
        return (handle, end.code)
    }

    /// For a page of this very host, say why and what to do about it.
    private func logRefused(origin: [UInt8], _ verdict: OriginVerdict) {
        let shown = text(origin)
        let why = verdict == .publicName
            ? ": same host, but a public DNS name (DNS rebinding guard); allow it with --allow-origin \(shown)" : ""
        server.log(.warn, "ws refused origin=\(shown)\(why)")
    }

    /// The client may send compressed messages at any time once deflate is agreed, so its
    /// inflater cannot be refused later the way our compressor can: its memory is promised now,
    /// and deflate is agreed only if the budget still has room for that promise.
    private func reserveDeflate(_ negotiated: DeflateParameters?) -> PerMessageDeflate? {
        let budget = server.deflateBudget
        guard let negotiated,
              let account = budget.reserve(Decompressor.estimatedBytes(windowBits: negotiated.receiveWindowBits)) else { return nil }
        return PerMessageDeflate(parameters: negotiated, policy: server.configuration.deflate, budget: budget, inflaterAccount: account)
    }

    /// Registered before the 101 goes out: once a client holds its 101, the count includes it.
    private func register(_ deflate: PerMessageDeflate?) -> ConnectionHandle {
        let outbox = handler.fansOut ? Outbox(limitBytes: limits.maxQueuedBytes) : nil
        let handle = ConnectionHandle(
            id: server.nextID(), socket: socket, deflate: deflate, metrics: server.metrics, outbox: outbox, sendTimeoutMs: limits.sendTimeoutMs)
        server.metrics.upgrades.add(1)
        let open = server.registry.add(handle)
        server.log(.info, "ws-open id=\(handle.id) peer=\(client.text) open=\(open)")
        return handle
    }

    /// Writes the 101 (and the greeting) and starts the writer thread in fan-out mode; returns
    /// the close code when the session cannot start.
    private func open(_ handle: ConnectionHandle, _ agreement: UpgradeAgreement, _ deflate: PerMessageDeflate?) -> CloseCode? {
        let greeting = server.configuration.greeting
        guard (try? handle.writeOpening(openingBytes(agreement, deflate, greeting: greeting))) != nil else {
            // A broadcast may already have failed it as a slow consumer (1008) before its 101.
            return handle.failureCode ?? .abnormalClosure
        }
        if !greeting.isEmpty {
            server.metrics.messagesOut.add(1)
            server.metrics.bytesOut.add(greeting.count)
        }
        if handle.outbox != nil {
            // Fan-out: keep the kernel's share of a stalled peer's backlog small, so the
            // bounded queue (not megabytes of socket buffer) decides when it is too slow.
            socket.setSendBufferSize(128 << 10)
            guard startWriter(handle) else { return .internalError }
        }
        // Upgraded while the server is stopping: its shutdown snapshot may have missed us.
        if server.isStopping { handle.sendClose(.shuttingDown) }
        return nil
    }

    /// The 101 (after a 100 when the client expects one, RFC 9110 §7.8) and the greeting, in
    /// one write: one syscall, one packet.
    private func openingBytes(_ agreement: UpgradeAgreement, _ deflate: PerMessageDeflate?, greeting: [UInt8]) -> [UInt8] {
        var response = HTTPResponse(status: 101)
        response.header("Upgrade", "websocket")
        response.header("Connection", "Upgrade")
        response.header("Sec-WebSocket-Accept", bytes: agreement.accept)
        // Never the `lantern.token.` item: only the plain name, which the page offers beside it.
        if agreement.selectsLantern { response.header("Sec-WebSocket-Protocol", TokenOffer.lanternProtocol) }
        if let deflate { response.header("Sec-WebSocket-Extensions", bytes: deflate.parameters.response) }
        response.finish()
        var bytes = agreement.expectsContinue ? Array("HTTP/1.1 100 Continue\r\n\r\n".utf8) : []
        bytes.append(contentsOf: response.bytes)
        if !greeting.isEmpty {
            bytes.append(contentsOf: FrameHeader(fin: true, opcode: .text, payloadLength: UInt64(greeting.count)).encoded)
            bytes.append(contentsOf: greeting)
        }
        return bytes
    }

    private func startWriter(_ handle: ConnectionHandle) -> Bool {
        startDetachedThread(Unmanaged.passRetained(handle).toOpaque(), stackBytes: 64 << 10, entry: writerThreadMain) {
            Unmanaged<ConnectionHandle>.fromOpaque($0).release()
        }
    }
}
