import Foundation
import Testing

/// Rejected opening handshakes (spec item 6, RFC 6455 §4.2.1, §4.4): status, headers, then the server closes.
@Suite(.timeLimit(.minutes(1)))
struct HandshakeTests {
    /// Sends `request` raw, reads one response, and checks the status and that the connection then closes.
    @discardableResult
    private func expectRejection(_ request: [UInt8], status: Set<Int>, serverArguments: [String] = [],
                                 sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPResponse? {
        let server = try ServerProcess.start(serverArguments)
        defer { server.stop() }
        let client = try server.connect()
        do { try client.send(request) } catch ClientError.reset {}  // the server may answer before reading it all
        let response: HTTPResponse
        do {
            response = try client.readHTTPResponse()
        } catch {
            Issue.record("no HTTP response: \(error)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(status.contains(response.status), "status line \(response.statusLine.debugDescription), expected \(status.sorted())", sourceLocation: sourceLocation)
        Expect.serverClosesTCP(client, sourceLocation: sourceLocation)
        Expect.serverStillEchoes(server, skipGreeting: true, sourceLocation: sourceLocation)
        return response
    }

    private func upgrade(_ requestLine: String, dropping dropped: String? = nil, replacing: [String: String] = [:], adding: [String] = []) -> [UInt8] {
        var headers = ["Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
                       "Sec-WebSocket-Key: \(RawClient.makeKey())", "Sec-WebSocket-Version: 13"]
        headers = headers.compactMap { line in
            let name = String(line.prefix { $0 != ":" })
            if name == dropped { return nil }
            if let value = replacing[name] { return "\(name): \(value)" }
            return line
        } + adding
        return Array((requestLine + "\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8)
    }

    @Test func validHandshakeSucceeds() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        _ = try server.webSocket()  // checks 101, Upgrade, Connection, Sec-WebSocket-Accept
    }

    @Test func headerNamesAndTokensAreCaseInsensitive() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect()
        let key = RawClient.makeKey()
        try client.sendRequest("GET /ws HTTP/1.1", headers: [
            "host: 127.0.0.1", "upgrade: WebSocket", "connection: keep-alive, Upgrade",
            "sec-websocket-key: \(key)", "sec-websocket-version: 13"])
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
        #expect(response.header("Sec-WebSocket-Accept") == RawClient.acceptValue(for: key))
    }

    @Test func missingKeyIs400() throws {
        try expectRejection(upgrade("GET /ws HTTP/1.1", dropping: "Sec-WebSocket-Key"), status: [400])
    }

    /// Keys that do not decode to exactly 16 bytes (RFC 6455 §4.1 item 7).
    @Test(arguments: ["AAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAQ=", "not base64 at all!!!!!!=", ""])
    func badKeyIs400(key: String) throws {
        try expectRejection(upgrade("GET /ws HTTP/1.1", replacing: ["Sec-WebSocket-Key": key]), status: [400])
    }

    @Test func version8Is426WithSupportedVersion() throws {
        let response = try expectRejection(upgrade("GET /ws HTTP/1.1", replacing: ["Sec-WebSocket-Version": "8"]), status: [426])
        #expect(response?.header("Sec-WebSocket-Version")?.contains("13") == true, "426 must carry Sec-WebSocket-Version: 13 (RFC 6455 §4.4); headers: \(response?.headers.map { "\($0.name): \($0.value)" } ?? [])")
        expectUpgradeNamed(response)
    }

    /// RFC 9110 §15.5.22: a 426 MUST send Upgrade; §7.8: whoever sends Upgrade MUST list
    /// "upgrade" in Connection.
    private func expectUpgradeNamed(_ response: HTTPResponse?, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response?.header("Upgrade")?.lowercased() == "websocket", sourceLocation: sourceLocation)
        let connection = response?.header("Connection")?.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
        #expect(connection.contains("upgrade") && connection.contains("close"), "Connection: \(connection)", sourceLocation: sourceLocation)
    }

    @Test func missingVersionIsRejected() throws {
        try expectRejection(upgrade("GET /ws HTTP/1.1", dropping: "Sec-WebSocket-Version"), status: [400, 426])
    }

    @Test func missingUpgradeHeaderOnWebSocketPathIsRejected() throws {
        let response = try expectRejection(upgrade("GET /ws HTTP/1.1", dropping: "Upgrade"), status: [426])
        expectUpgradeNamed(response)
    }

    /// RFC 9110 §7.8: the client speaks WebSocket only once its request is complete, so a body
    /// (or framing that promises one) would be read as frames: such requests are refused.
    @Test(arguments: [
        (["Content-Length: 5"], "hello"),
        (["Transfer-Encoding: chunked"], "0\r\n\r\n"),
        (["Content-Length: abc"], ""),
    ] as [([String], String)])
    func bodyOnUpgradeIs400(headers: [String], body: String) throws {
        var request = upgrade("GET /ws HTTP/1.1", adding: headers)
        request += Array(body.utf8) + RawClient.encodeFrame(opcode: 0x1, payload: Array("AB".utf8))
        try expectRejection(request, status: [400])
    }

    /// RFC 9110 §7.8: Expect: 100-continue on an upgrade gets a 100 before the 101.
    @Test func expectContinueGets100Then101() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect()
        let key = RawClient.makeKey()
        try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: key) + ["Expect: 100-continue"])
        #expect(try client.readHTTPResponse(bodyless: true).status == 100)
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
        #expect(response.header("Sec-WebSocket-Accept") == RawClient.acceptValue(for: key))
        try client.sendFrame(opcode: 0x1, payload: Array("after 100".utf8))
        #expect(try client.readMessage().payload == Array("after 100".utf8))
    }

    /// RFC 6455 §4.2.1 asks for "HTTP/1.1 or higher"; RFC 9110 §2.5: a later 1.x is served as 1.1.
    @Test func http12UpgradeIsAccepted() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect()
        let key = RawClient.makeKey()
        try client.sendRequest("GET /ws HTTP/1.2", headers: RawClient.upgradeHeaders(port: server.port, key: key))
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
        #expect(response.statusLine.hasPrefix("HTTP/1.1 "))
    }

    @Test func postToWebSocketPathIs405WithAllow() throws {
        let response = try expectRejection(upgrade("POST /ws HTTP/1.1", adding: ["Content-Length: 0"]), status: [405])
        #expect(response?.header("Allow")?.contains("GET") == true, "405 must carry Allow; got \(response?.header("Allow") ?? "none")")
    }

    @Test func upgradeOnUnknownPathIs404() throws {
        try expectRejection(upgrade("GET /nope HTTP/1.1"), status: [404])
    }

    @Test func headOver8KiBIs431() throws {
        try expectRejection(upgrade("GET /ws HTTP/1.1", adding: ["X-Big: " + String(repeating: "a", count: 10_000)]), status: [431])
    }

    @Test func manySmallHeadersOver8KiBAre431() throws {
        let padding = (0..<200).map { "X-Pad-\($0): " + String(repeating: "b", count: 40) }  // ~10 KB
        try expectRejection(upgrade("GET /ws HTTP/1.1", adding: padding), status: [431])
    }

    @Test func configuredHeaderLimitIsEnforced() throws {
        try expectRejection(upgrade("GET /ws HTTP/1.1", adding: ["X-Big: " + String(repeating: "a", count: 2000)]),
                            status: [431], serverArguments: ["--max-header-bytes", "1024"])
    }

    @Test func headJustUnder8KiBIsAccepted() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.connect()
        let key = RawClient.makeKey()
        var head = "GET /ws HTTP/1.1\r\n" + RawClient.upgradeHeaders(port: server.port, key: key).map { $0 + "\r\n" }.joined()
        let filler = "X-Fill: "
        head += filler + String(repeating: "c", count: 8000 - head.utf8.count - filler.utf8.count - 4) + "\r\n\r\n"
        #expect(head.utf8.count == 8000)
        try client.send(head)
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
    }

    @Test(arguments: ["GET\r\n\r\n", "GET /ws\r\n\r\n", "GET /ws HTTP/9.9 extra\r\n\r\n", "\u{1}\u{2}\u{3} / HTTP/1.1\r\n\r\n"])
    func garbageRequestLineIs400(request: String) throws {
        try expectRejection(Array(request.utf8), status: [400, 505])
    }

    @Test func garbageRequestLineWithoutVersionIs400() throws {
        try expectRejection(Array("GARBAGE\r\n\r\n".utf8), status: [400])
    }
}
