import Foundation
import Testing

/// Every path where a connection's receive buffer grows, answered in full. On 32-bit ARM the
/// first growth (a request head over 1 KiB) read through a pointer 12 bytes off (r10, Swift's
/// `self` register, moved by a store-multiple with writeback) and the connection was reset with
/// no response and no log line: a browser sending a few cookies never saw the page. CI runs this
/// suite against the armv7 and armv6 builds under qemu.
@Suite(.timeLimit(.minutes(1)))
struct BufferGrowthTests {
    /// Cookies that make the request head about `bytes` long: 1 KiB -> 2, 4 and 8 KiB buffers.
    static func cookie(_ bytes: Int) -> String {
        "Cookie: " + (0..<(bytes / 40)).map { "session\($0)=\(String(repeating: "a", count: 24))" }.joined(separator: "; ")
    }

    @Test(arguments: [1_300, 2_100, 6_000, 7_900])
    func longRequestHeadGetsThePage(headBytes: Int) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("GET /client HTTP/1.1", headers: ["Host: 127.0.0.1", Self.cookie(headBytes)])
        let response = try client.readHTTPResponse()
        #expect(response.status == 200)
        #expect(response.body.count > 1_000)
        // The same connection, its buffer now grown, answers again.
        try client.sendRequest("GET /healthz HTTP/1.1", headers: ["Host: 127.0.0.1"])
        #expect(try client.readHTTPResponse().status == 200)
    }

    @Test(arguments: [1_300, 6_000])
    func longUpgradeHeadGets101AndEchoes(headBytes: Int) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect()
        let key = RawClient.makeKey()
        try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: key) + [Self.cookie(headBytes)])
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
        #expect(response.header("Sec-WebSocket-Accept") == RawClient.acceptValue(for: key))
        try client.sendFrame(opcode: 1, payload: Array("after a long head".utf8))
        let echo = try client.readMessage()
        #expect(echo.opcode == 1)
        #expect(echo.payload == Array("after a long head".utf8))
    }

    /// A head past --max-header-bytes is still 431 after the buffer has grown to its limit.
    @Test func headPastTheLimitIs431() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("GET /client HTTP/1.1", headers: ["Host: 127.0.0.1", Self.cookie(9_000)])
        #expect(try client.readHTTPResponse().status == 431)
    }

    /// Big frames grow the buffer to 64 KiB (plus a frame header); the messages around the growth
    /// come back whole and in order.
    @Test func messagesAcrossTheLargeBufferGrowth() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        for size in [10, 1_500, 70_000, 65_536, 200_000, 3] {
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ size) }
            try client.sendFrame(opcode: 2, payload: payload)
            let echo = try client.readMessage(timeout: 30)
            #expect(echo.opcode == 2)
            #expect(echo.payload == payload, "message of \(size) bytes")
        }
    }
}
