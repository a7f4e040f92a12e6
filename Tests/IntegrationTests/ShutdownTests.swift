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

    @Test func sigtermWhenIdleExits0() throws {
        let server = try ServerProcess.start()
        defer { server.kill() }
        server.send(signal: SIGTERM)
        #expect(server.waitForExit(timeout: 2), "still running 2 s after SIGTERM")
        #expect(server.exitStatus == 0)
    }
}
