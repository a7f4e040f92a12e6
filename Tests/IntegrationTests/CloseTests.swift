import Foundation
import Glibc
import Testing

/// The closing handshake (spec item 4, RFC 6455 §5.5.1, §7.4).
@Suite(.timeLimit(.minutes(1)))
struct CloseTests {
    @Test(arguments: [UInt16(1000), 3000])
    func closeCodeIsEchoed(code: UInt16) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: code, reason: Array("bye".utf8))
        Expect.serverCloses(client, codes: [code])
        #expect(server.stderrLine(containing: ["ws-close", "open=0"]) != nil, "no ws-close line with open=0; stderr: \(server.stderr.text)")
    }

    /// RFC 6455 §7.1.1: once both close frames have crossed, the server closes TCP first. It does
    /// not wait for the client's FIN: the connection is over (logged) while this client still holds
    /// its socket open, well before the 1 s the server would wait for a close reply of its own.
    @Test func serverClosesTCPFirstAfterTheClientsClose() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        defer { client.close() }
        try client.sendClose(code: 1000)
        #expect(try client.readCloseFrame().closeCode == 1000)
        // Well under the server's 1 s wait for a close reply: an EOF only after it would mean
        // the server waited for our FIN instead of closing first.
        _ = try client.readUntilEOF(timeout: 0.8)
        let ended = server.stderr.wait(timeout: 0.8) { text, _ in Logs.count("ws-close", in: text) >= 1 }
        #expect(ended, "no ws-close line while the client kept its socket open; stderr: \(server.stderr.text)")
    }

    /// A peer that keeps sending after its close frame: the server drains those bytes before it
    /// closes, so the close is not turned into a RST. 32 KiB of junk ride behind the close frame,
    /// far more than the server's first read takes; once the server has let go of the
    /// connection, this socket has seen only its FIN (CLOSE_WAIT), never a reset (CLOSE).
    @Test func bytesAfterTheClientsCloseAreDrainedNotReset() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        defer { client.close() }
        let junk = RawClient.encodeFrame(opcode: Op.binary, payload: [UInt8](repeating: 0x5A, count: 32 << 10))
        try client.send(RawClient.encodeFrame(opcode: Op.close, payload: [0x03, 0xE8]) + junk)
        #expect(try client.readCloseFrame().closeCode == 1000)
        let ended = server.stderr.wait(timeout: 5) { text, _ in Logs.count("ws-close", in: text) >= 1 }
        #expect(ended, "no ws-close line; stderr: \(server.stderr.text)")
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        #expect(getsockopt(client.fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0)
        let closeWait: UInt8 = 8, closed: UInt8 = 7  // TCP_CLOSE_WAIT, TCP_CLOSE (netinet/tcp.h)
        #expect(info.tcpi_state == closeWait, "client TCP state \(info.tcpi_state) (\(closed) = reset by the server)")
    }

    /// Codes valid on the wire (RFC 6455 §7.4.1/§7.4.2; the Autobahn 7.7.x set): a normal reply.
    @Test(arguments: [UInt16(1001), 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3999, 4000, 4999])
    func validCloseCodeGetsNormalReply(code: UInt16) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: code)
        Expect.serverCloses(client, codes: [code, 1000])
    }

    /// Codes that must never appear in a close frame (RFC 6455 §7.4.1, §7.4.2; Autobahn 7.9.x).
    @Test(arguments: [UInt16(0), 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
    func invalidCloseCodeIsProtocolError(code: UInt16) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: code)
        Expect.serverCloses(client, codes: [1002])
    }

    @Test func oneBytePayloadIsProtocolError() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(opcode: Op.close, payload: [0x03])
        Expect.serverCloses(client, codes: [1002])
    }

    @Test(arguments: [[UInt8(0xC0), 0xAF], [0xED, 0xA0, 0x80], [0xFF], [0x68, 0x69, 0xCE]])
    func invalidUTF8ReasonIsInvalidPayload(reason: [UInt8]) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: 1000, reason: reason)
        Expect.serverCloses(client, codes: [1007])
    }

    @Test func emptyCloseGetsEmptyOrNormalReply() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: nil)
        Expect.serverCloses(client, codes: [nil, 1000])
    }

    @Test func maximalCloseReasonIsAccepted() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendClose(code: 1000, reason: Payload.text(123))  // 125-byte payload
        Expect.serverCloses(client, codes: [1000])
    }

    @Test func closeInsideFragmentedMessageIsHonoured() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(fin: false, opcode: Op.text, payload: Array("half".utf8))
        try client.sendClose(code: 1000)
        Expect.serverCloses(client, codes: [1000])
    }

    @Test func dataAfterClientCloseIsNotEchoed() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        // Close and a text frame in one write: the text must be ignored (RFC 6455 §5.5.1).
        try client.send(RawClient.encodeFrame(opcode: Op.close, payload: [0x03, 0xE8])
                        + RawClient.encodeFrame(opcode: Op.text, payload: Array("too late".utf8)))
        Expect.serverCloses(client, codes: [1000])
    }
}
