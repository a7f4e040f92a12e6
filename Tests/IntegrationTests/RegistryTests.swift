import Foundation
import Testing

/// The connection registry survives every way a connection can end (spec item 8).
@Suite(.timeLimit(.minutes(1)))
struct RegistryTests {
    /// Lines of `text` that are `ws-close` events reporting `open=count`.
    private static func closeLines(_ text: String, open count: Int) -> [String] {
        PipeCollector.completeLines(text).filter { line in
            let fields = line.split(separator: " ")
            return fields.contains("ws-close") && fields.contains(Substring("open=\(count)"))
        }
    }

    @Test func everyWayOfEndingIsAccountedFor() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        // 1. Open seven clients and prove each is live with an echo (so all seven are registered at once).
        let clients = try (0..<7).map { _ in try server.webSocket() }
        for (i, client) in clients.enumerated() {
            try client.sendFrame(opcode: Op.text, payload: Array("client \(i)".utf8))
            #expect(try client.readMessage().payload == Array("client \(i)".utf8))
        }
        #expect(server.stderrLine(containing: ["ws-open", "open=7"]) != nil, "no ws-open line with open=7; stderr: \(server.stderr.text.suffix(800))")

        // 2. End them every possible way.
        for client in clients[0..<2] {  // clean close handshake
            try client.sendClose(code: 1000)
            Expect.serverCloses(client, codes: [1000])
        }
        clients[2].close()  // TCP FIN without a close frame
        clients[3].close()
        clients[4].reset()  // TCP RST
        try clients[5].send([0x81])  // half a frame header (FIN + text, no length byte)
        clients[5].close()
        // Header announcing 10 bytes, mask key, then 5 payload bytes only.
        let frame = RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(10))
        try clients[6].send(Array(frame.prefix(frame.count - 5)))
        clients[6].close()

        // 3. The registry drains to zero: exactly one ws-close per connection, one of them with open=0.
        // Each thread logs its line after releasing the registry lock, so the open=0 line may come
        // before another's open=1 line (seen under qemu): wait for all seven, then count.
        let count = { (text: String) in PipeCollector.completeLines(text).filter { $0.split(separator: " ").contains("ws-close") }.count }
        let drained = server.stderr.wait(timeout: 5) { text, _ in !Self.closeLines(text, open: 0).isEmpty && count(text) >= 7 }
        #expect(drained, "no ws-close line with open=0 or fewer than 7 ws-close lines within 5 s; stderr: \(server.stderr.text.suffix(1500))")
        let closeCount = count(server.stderr.text)
        #expect(closeCount == 7, "ws-close lines: \(closeCount), expected 7")

        // 4. The server still serves.
        Expect.serverStillEchoes(server)
    }

    @Test func peerResetDuringBigEchoDoesNotKillServer() throws {
        // The server writes 1 MiB into a reset socket: EPIPE, never a fatal SIGPIPE.
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        for _ in 0..<3 {
            let client = try server.webSocket()
            try client.sendFrame(opcode: Op.binary, payload: Payload.binary(1 << 20))
            client.reset()
        }
        let drained = server.stderr.wait(timeout: 10) { text, _ in
            PipeCollector.completeLines(text).filter { $0.split(separator: " ").contains("ws-close") }.count == 3
                && !Self.closeLines(text, open: 0).isEmpty
        }
        #expect(drained, "expected 3 ws-close lines ending with open=0; stderr: \(server.stderr.text.suffix(800))")
        #expect(!server.waitForExit(timeout: 0), "server died: \(server.stderr.text.suffix(800))")
        Expect.serverStillEchoes(server)
    }

    @Test func openCountFollowsConnections() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let a = try server.webSocket()
        #expect(server.stderrLine(containing: ["ws-open", "open=1"]) != nil)
        let b = try server.webSocket()
        #expect(server.stderrLine(containing: ["ws-open", "open=2"]) != nil)
        try b.sendClose(code: 1000)
        Expect.serverCloses(b, codes: [1000])
        #expect(server.stderr.wait(timeout: 5) { text, _ in !Self.closeLines(text, open: 1).isEmpty }, "stderr: \(server.stderr.text)")
        a.close()
        #expect(server.stderr.wait(timeout: 5) { text, _ in !Self.closeLines(text, open: 0).isEmpty }, "stderr: \(server.stderr.text)")
    }

    @Test func plainHTTPConnectionsDoNotCount() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let http = try server.connect()
        try http.sendRequest("GET /nope HTTP/1.1", headers: ["Host: x"])
        #expect(try http.readHTTPResponse().status == 404)
        http.close()
        let ws = try server.webSocket()
        #expect(server.stderrLine(containing: ["ws-open", "open=1"]) != nil, "stderr: \(server.stderr.text)")
        _ = ws
    }
}
