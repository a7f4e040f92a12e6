#if canImport(Glibc)
import Glibc
#endif

/// The HTTP stage of a connection: request heads are read and answered (page, assets,
/// operations endpoints, refusals) until one asks for the WebSocket endpoint.
extension Connection {
    /// Serves requests until the connection closes; for a WebSocket, returns its handle and close code.
    func serveHTTP() -> (ConnectionHandle, CloseCode)? {
        var deadline = MonotonicClock.nowMs() + Int64(limits.handshakeTimeoutMs)
        while let head = nextRequest(by: deadline) {
            let body: RequestBody
            client = peer
            do throws(HTTPError) {
                client = try ClientAddress.resolve(peer: peer, head: head, trusted: server.configuration.trustedProxies)
                body = try head.checkMessage()
            } catch {
                refuse(error, path: text(head.path), isHead: head.isHead)
                return nil
            }
            if head.path.elementsEqual("/ws".utf8) { return upgrade(head) }
            // /metrics shows the box's activity: with a token configured, only to its holders.
            if let access = server.access, head.path.elementsEqual("/metrics".utf8),
               let refused = access.check(client).refusal(TokenOffer.bearer(head.values("authorization")), upgrade: false) {
                countAccessRefusal(refused.verdict)
                refuse(refused.error, path: "/metrics", isHead: head.isHead)
                return nil
            }
            guard answer(head, body: body) else { return nil }
            deadline = MonotonicClock.nowMs() + Int64(limits.keepAliveTimeoutMs)
        }
        return nil
    }

    /// Refuses with `error` and closes; after HEAD the response has no body (RFC 9110 §9.3.2).
    func refuse(_ error: HTTPError, path: String, isHead: Bool = false) {
        server.metrics.refused(error)
        server.log(.info, "http refused \(path) \(error.status) \(text(error.message)) peer=\(client.text)")
        _ = try? socket.writeAll(HTTPResponse.refusal(error, isHead: isHead))
        socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs)
    }

    /// Counts an access refusal in /metrics, and a wrong guess against the client's address
    /// (`verdict` nil: held back by the limiter, the token unseen).
    func countAccessRefusal(_ verdict: AccessVerdict?) {
        server.metrics.accessRefused(verdict)
        if verdict?.isFailedGuess == true { server.access?.failed(client) }
    }

    /// Reads until a whole request head is buffered and returns it; nil once the connection is
    /// over (a malformed head refused, the peer gone, or `deadline` passed), its socket closed.
    private func nextRequest(by deadline: Int64) -> HTTPRequestHead? {
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
                return head
            }
            let remaining = MonotonicClock.msUntil(deadline)
            if remaining <= 0 {
                server.log(.info, "http timeout peer=\(client.text)")
                socket.close()
                return nil
            }
            limitReceiveTimeout(to: remaining)
            do {
                if try readMore(afterAnswering: false) <= 0 { socket.close(); return nil }
            } catch {
                if !error.isTimeout { socket.close(); return nil }
            }
        }
    }

    /// Answers a plain request; returns whether the connection stays open for the next one.
    private func answer(_ head: HTTPRequestHead, body: RequestBody) -> Bool {
        let (response, keepOpen) = OperationsEndpoints(server: server).response(to: head) ?? server.responder.respond(to: head)
        server.metrics.httpRequests.add(1)
        server.log(.info, "http \(text(head.method)) \(text(head.target)) \(statusOf(response)) peer=\(client.text)")
        // A request body is never read, so the stream cannot be trusted after one;
        // a failed upgrade attempt ends the connection like any handshake failure.
        let closing = !keepOpen || body != .none || !head.values("upgrade").isEmpty
        let announced = HTTPResponse.announcing(response, closing: closing, minorVersion: head.minorVersion)
        guard (try? socket.writeAll(announced)) != nil else {
            socket.close()
            return false
        }
        if closing { socket.closeAfterDraining(timeoutMilliseconds: limits.closeTimeoutMs) }
        return !closing
    }

    private func statusOf(_ response: [UInt8]) -> String {
        response.count >= 12 ? text(response[9..<12]) : "?"
    }
}
