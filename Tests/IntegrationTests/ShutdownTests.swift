import Foundation
import Glibc
import Testing

/// Graceful shutdown on SIGTERM (spec item 10).
@Suite(.timeLimit(.minutes(1)))
struct ShutdownTests {
    @Test func sigtermClosesClientsWith1001AndExits0() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.kill() }
        let clients = try (0..<3).map { _ in try server.webSocket() }
        for client in clients {  // make sure each connection is fully established server-side
            try client.sendFrame(opcode: Op.text, payload: Array("ready".utf8))
            #expect(try client.readMessage().payload == Array("ready".utf8))
        }
        let start = Date()
        server.send(signal: SIGTERM)
        for client in clients {
            // Reply to the close as a well-behaved client would, then expect TCP to close.
            Expect.serverCloses(client, codes: [1001], timeout: 2, replyToClose: true)
        }
        let exited = server.waitForExit(timeout: max(0, 2 - Date().timeIntervalSince(start)))
        #expect(exited, "still running 2 s after SIGTERM; stderr: \(server.stderr.text.suffix(800))")
        if exited {
            #expect(server.exitStatus == 0, "exit status \(server.exitStatus.map(String.init) ?? "signalled")")
        }
    }

    @Test func sigtermWithSilentClientStillExitsWithin2s() throws {
        // A client that never answers the close frame must not hold the shutdown beyond 2 s.
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.kill() }
        let client = try server.webSocket()
        try client.sendFrame(opcode: Op.text, payload: Array("ready".utf8))
        _ = try client.readMessage()
        let start = Date()
        server.send(signal: SIGTERM)
        let exited = server.waitForExit(timeout: 2)
        #expect(exited, "still running \(Date().timeIntervalSince(start)) s after SIGTERM")
        if exited { #expect(server.exitStatus == 0) }
        let close = try? client.readCloseFrame(timeout: 1)
        #expect(close?.closeCode == 1001, "close frame: \(close.map { "\($0)" } ?? "none")")
    }

    /// RFC 6455 §5.5.1: a message the client sent before it saw our close frame gets no answer,
    /// and its close reply still completes the handshake. It used to count as a failed write: the
    /// sender was reset and logged 1006 and, in broadcast mode, every other client that still had
    /// the message to receive was reset and logged 1008 "slow consumer".
    @Test(arguments: ["echo", "broadcast"])
    func aMessageInFlightAfterOurCloseIsDroppedNotReset(mode: String) throws {
        let server = try ServerProcess.start(["--greeting", "", "--mode", mode])
        defer { server.kill() }
        let clients = try (0..<(mode == "broadcast" ? 2 : 1)).map { _ in try server.webSocket() }
        // Every client receives this (broadcast or echo), so every one is registered.
        try clients[0].sendFrame(opcode: Op.text, payload: Array("ready".utf8))
        for client in clients { #expect(try client.readMessage().payload == Array("ready".utf8)) }
        server.send(signal: SIGTERM)
        for client in clients { #expect(try client.readCloseFrame(timeout: 2).closeCode == 1001) }
        // The sender's message, then its close reply; once the server logged that connection's
        // close it has handled the message (and queued it for the others in broadcast mode).
        try clients[0].sendFrame(opcode: Op.text, payload: Array("in flight".utf8))
        try clients[0].sendClose(code: 1001)
        #expect(server.stderr.wait(timeout: 2) { text, _ in Logs.count("ws-close", in: text) >= 1 })
        for client in clients.dropFirst() { try client.sendClose(code: 1001) }
        for (i, client) in clients.enumerated() {
            var ending = "nothing within 2 s"
            do {
                let rest = try client.read(count: 1, timeout: 2)
                ending = "\(rest.count) more bytes"
            } catch ClientError.closed {
                ending = "EOF"
            } catch ClientError.reset {
                ending = "reset"
            } catch {
                ending = "\(error)"
            }
            #expect(ending == "EOF", "client \(i)")
        }
        #expect(server.waitForExit(timeout: 2))
        let lines = PipeCollector.completeLines(server.stderr.text)
        let closes = lines.filter { $0.contains(" ws-close ") }
        #expect(closes.count == clients.count && closes.allSatisfy { $0.contains(" code=1001 ") }, "\(closes)")
        #expect(!lines.contains { $0.contains("ws-slow") })
    }

    @Test func sigtermWhenIdleExits0() throws {
        let server = try ServerProcess.start()
        defer { server.kill() }
        server.send(signal: SIGTERM)
        #expect(server.waitForExit(timeout: 2), "still running 2 s after SIGTERM")
        #expect(server.exitStatus == 0)
    }
}
