import Foundation
import Testing

/// Values past 2^31 and 2^32 on the wire, for the 32-bit ARM builds (ARMv7, ARMv6), where `Int`
/// is 32 bits and an overflow traps, killing every connection on the box. CI runs this suite
/// against each binary (`LANTERN_BIN=.build-arm/run-armv7 swift test --filter ThirtyTwoBitTests`);
/// on x86_64 it checks that both builds give the same answers. Before the fix, a Content-Length of
/// 10 digits or more (past 2^31 - 1) trapped the ARMv7 and ARMv6 binaries.
@Suite(.timeLimit(.minutes(2)))
struct ThirtyTwoBitTests {
    /// 64-bit frame lengths: 2^31, 2^32 + 5 and 2^63 - 1 (the largest RFC 6455 §5.2 allows).
    static let wideLengths: [UInt64] = [1 << 31, (1 << 32) + 5, UInt64(Int64.max)]

    /// The default limit (1 MiB) and the largest --max-message-bytes takes (1 GiB).
    static let limits: [[String]] = [[], ["--max-message-bytes", "1073741824"]]

    /// The server is still running, and still serves a new client.
    private func stillServing(_ server: ServerProcess, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!server.waitForExit(timeout: 0), "the server exited; stderr tail: \(server.stderr.text.suffix(500))",
                sourceLocation: sourceLocation)
        Expect.serverStillEchoes(server, sourceLocation: sourceLocation)
    }

    @Test("a masked header announcing a 64-bit length gets 1009, header only", arguments: wideLengths, limits)
    func wideFrameLength(length: UInt64, limit: [String]) throws {
        let server = try ServerProcess.start(["--greeting", ""] + limit)
        defer { server.stop() }
        let client = try server.webSocket(timeout: 10)
        try client.sendFrame(opcode: Op.binary, length: length)
        Expect.serverCloses(client, codes: [1009], timeout: 10)
        #expect(server.stderrLine(containing: ["ws-close", "code=1009"], timeout: 10) != nil, "stderr: \(server.stderr.text.suffix(500))")
        stillServing(server)
    }

    @Test("a continuation announcing a 64-bit length gets 1009", arguments: wideLengths)
    func wideContinuationLength(length: UInt64) throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-message-bytes", "1073741824"])
        defer { server.stop() }
        let client = try server.webSocket(timeout: 10)
        try client.sendFrame(fin: false, opcode: Op.text, payload: Array("hi".utf8))
        try client.sendFrame(opcode: Op.continuation, length: length)
        Expect.serverCloses(client, codes: [1009], timeout: 10)
        stillServing(server)
    }

    @Test("a compressed (RSV1) header announcing a 64-bit length gets 1009", arguments: wideLengths)
    func wideCompressedLength(length: UInt64) throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-message-bytes", "1073741824"])
        defer { server.stop() }
        let client = try server.connect(timeout: 10)
        let key = RawClient.makeKey()
        try client.sendRequest("GET \(RawClient.webSocketPath) HTTP/1.1",
                               headers: RawClient.upgradeHeaders(port: server.port, key: key) + ["Sec-WebSocket-Extensions: permessage-deflate"])
        let response = try client.readHTTPResponse(bodyless: true)
        try #require(response.status == 101, "\(response.statusLine)")
        try #require(response.header("Sec-WebSocket-Extensions")?.hasPrefix("permessage-deflate") == true, "deflate not agreed")
        try client.sendFrame(rsv: 0x40, opcode: Op.binary, length: length)
        Expect.serverCloses(client, codes: [1009], timeout: 10)
        stillServing(server)
    }

    /// RFC 9110 §8.6: a recipient must not overflow on a large Content-Length. A valid one is a
    /// body the server does not read: it answers the request and closes (RFC 9112 §9.6), as it
    /// does for any body; more than 18 digits is refused as invalid (400) on every build.
    @Test("Content-Length past 2^31 and 2^32 on a plain GET", arguments: [
        ("2147483648", 200), ("4294967296", 200), ("4294967301", 200), ("999999999999", 200),
        ("99999999999999999999", 400),
    ] as [(String, Int)])
    func wideContentLength(value: String, status: Int) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect(timeout: 10)
        try client.sendRequest("GET /healthz HTTP/1.1", headers: ["Host: 127.0.0.1", "Content-Length: \(value)"])
        let response = try client.readHTTPResponse(timeout: 10)
        #expect(response.status == status, "\(response.statusLine)")
        if status == 200 { #expect(response.body == Array("ok\n".utf8)) }
        #expect(response.header("Connection")?.lowercased() == "close", "a body that is not read ends the connection")
        Expect.serverClosesTCP(client, timeout: 10)
        stillServing(server)
    }
}
