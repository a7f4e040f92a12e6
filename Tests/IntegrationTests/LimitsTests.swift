import Foundation
import Testing

/// Limits beyond the message and header sizes: connection cap, handshake timeout, keep-alive pings.
/// (Flags from `lantern --help`; the close codes here are not pinned by the spec, so any is accepted.)
@Suite(.timeLimit(.minutes(1)))
struct LimitsTests {
    @Test func connectionCapAnswers503AndFreesSlots() throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-connections", "2"])
        defer { server.stop() }
        let a = try server.webSocket()
        let b = try server.webSocket()
        #expect(server.stderrLine(containing: ["ws-open", "open=2"]) != nil)
        // 1. A third connection is refused with 503, then closed.
        let c = try server.connect()
        try c.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()))
        let refused = try? c.readHTTPResponse()
        #expect(refused?.status == 503, "third connection got \(refused?.statusLine ?? "no response")")
        Expect.serverClosesTCP(c)
        // 2. The first two still work.
        for client in [a, b] {
            try client.sendFrame(opcode: Op.text, payload: Array("x".utf8))
            #expect(try client.readMessage().payload == Array("x".utf8))
        }
        // 3. Once one leaves, a new client is admitted.
        try a.sendClose(code: 1000)
        Expect.serverCloses(a, codes: [1000])
        #expect(server.stderr.wait(timeout: 5) { text, _ in
            PipeCollector.completeLines(text).contains { $0.contains("ws-close") && $0.split(separator: " ").contains("open=1") }
        })
        Expect.serverStillEchoes(server)
    }

    /// A 503 at the connection cap is counted in /metrics: overload is what operators watch
    /// that counter for.
    @Test func connectionCapRefusalsAreCounted() throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-connections", "1"])
        defer { server.stop() }
        let a = try server.webSocket()
        let c = try server.connect()
        try c.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()))
        #expect(try c.readHTTPResponse().status == 503)
        // The slot is free again once the log says the WebSocket left (released before that line).
        try a.sendClose(code: 1000)
        Expect.serverCloses(a, codes: [1000])
        #expect(server.stderr.wait(timeout: 5) { text, _ in
            PipeCollector.completeLines(text).contains { $0.contains("ws-close") && $0.split(separator: " ").contains("open=0") }
        })
        #expect(try Ops.metrics(server.port)["lantern_requests_refused_total{status=\"503\"}"] == 1)
    }

    /// A client may keep a message half-sent for as long as it answers pings. Such bytes, beyond
    /// each connection's first 64 KiB, share one cap (--max-buffered-bytes); the connection that
    /// would pass it is closed with 1013 (try again later) while the others carry on.
    @Test func halfSentMessagesShareACapAndTheOneThatPassesItGets1013() throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-buffered-bytes", "200000"])
        defer { server.stop() }
        let (a, b, c) = (try server.webSocket(), try server.webSocket(), try server.webSocket())
        // A holds 150,000 charged bytes; B's 100,000 more would pass 200,000.
        let first = [UInt8](repeating: 0x61, count: 65536 + 150_000)
        try a.sendFrame(fin: false, opcode: Op.text, payload: first)
        // The pong to a ping sent after the fragment shows the server has taken all of it in.
        try a.sendFrame(opcode: Op.ping, payload: [1])
        #expect(try a.readFrame().opcode == Op.pong)
        try b.sendFrame(fin: false, opcode: Op.text, payload: [UInt8](repeating: 0x62, count: 65536 + 100_000))
        Expect.serverCloses(b, codes: [1013], replyToClose: true)
        #expect(server.stderrLine(containing: ["warn", "ws-busy", "--max-buffered-bytes"]) != nil)
        // Small messages still flow, and A finishes its message.
        try c.sendFrame(opcode: Op.text, payload: Array("small".utf8))
        #expect(try c.readMessage().payload == Array("small".utf8))
        try a.sendFrame(opcode: Op.continuation, payload: Array("!".utf8))
        #expect(try a.readMessage().payload.count == first.count + 1)
        // A's ping is handled after its finished message was released, so the cap has room again.
        try a.sendFrame(opcode: Op.ping, payload: [2])
        #expect(try a.readFrame().opcode == Op.pong)
        let big = [UInt8](repeating: 0x64, count: 65536 + 100_000)
        try c.sendFrame(opcode: Op.binary, payload: big)
        #expect(try c.readMessage().payload == big)
    }

    @Test func silentConnectionIsDroppedAfterHandshakeTimeout() throws {
        let server = try ServerProcess.start(["--handshake-timeout", "0.5"])
        defer { server.stop() }
        let silent = try server.connect()
        let partial = try server.connect()
        try partial.send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")  // never finished
        let start = Date()
        for client in [silent, partial] {
            // A 408 response is allowed before the close; the connection must end either way.
            do { _ = try client.readUntilEOF(timeout: 4) } catch { Issue.record("connection still open: \(error)") }
        }
        #expect(Date().timeIntervalSince(start) < 3.5)
        Expect.serverStillEchoes(server, skipGreeting: true)
    }

    @Test func idleConnectionIsPingedAndKeptWhileItAnswers() throws {
        let server = try ServerProcess.start(["--greeting", "", "--ping-interval", "0.3", "--idle-timeout", "1"])
        defer { server.stop() }
        let client = try server.webSocket()
        // 1. Answer pings for ~2 s (twice the idle timeout): the connection must survive.
        let until = Date(timeIntervalSinceNow: 2)
        var pings = 0
        while Date() < until {
            let frame = try client.readFrame(timeout: 2)
            #expect(frame.opcode == Op.ping, "expected only pings, got \(frame)")
            guard frame.opcode == Op.ping else { return }
            pings += 1
            try client.sendFrame(opcode: Op.pong, payload: frame.payload)
        }
        #expect(pings >= 2)
        try client.sendFrame(opcode: Op.text, payload: Array("alive".utf8))
        var reply = try client.readFrame()
        while reply.opcode == Op.ping { try client.sendFrame(opcode: Op.pong, payload: reply.payload); reply = try client.readFrame() }
        #expect(reply.opcode == Op.text && reply.payload == Array("alive".utf8))
    }

    @Test func connectionThatNeverAnswersIsClosedAfterIdleTimeout() throws {
        let server = try ServerProcess.start(["--greeting", "", "--ping-interval", "0.3", "--idle-timeout", "1"])
        defer { server.stop() }
        let client = try server.webSocket()
        let start = Date()
        // Pings and a close frame (any code) may arrive; then TCP must close.
        var sawClose = false
        do {
            while true {
                let frame = try client.readFrame(timeout: 4)
                if frame.opcode == Op.close { sawClose = true; break }
                #expect(frame.opcode == Op.ping, "unexpected \(frame)")
            }
            _ = try client.readUntilEOF(timeout: 3)
        } catch ClientError.closed, ClientError.reset {
        }
        #expect(Date().timeIntervalSince(start) < 4, "closed after \(Date().timeIntervalSince(start)) s")
        _ = sawClose  // a close frame is good manners here but not required by the spec
        #expect(server.stderrLine(containing: ["ws-close", "open=0"]) != nil)
    }
}
