import Foundation
import Glibc
import Testing

/// Issue 16, optional access secret: `--access-token-file` against the built binary.
@Suite("Access token", .serialized, .timeLimit(.minutes(1)))
struct AccessTokenIntegrationTests {
    static let token = "Zq8-rT_4.kLm~Np2Xy7wVb3C"

    /// A token file (with the newline `echo` leaves) in a fresh temporary path.
    static func tokenFile(_ content: String = token + "\n") throws -> String {
        let path = NSTemporaryDirectory() + "lantern-token-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func start() throws -> (ServerProcess, String) {
        let path = try tokenFile()
        return (try ServerProcess.start(["--access-token-file", path, "--greeting", ""]), path)
    }

    /// The answer to an upgrade request with `extra` header lines.
    static func upgrade(_ server: ServerProcess, _ extra: [String]) throws -> HTTPResponse {
        let client = try server.connect()
        defer { client.close() }
        try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()) + extra)
        return try client.readHTTPResponse(bodyless: true)
    }

    static func get(_ server: ServerProcess, _ path: String, _ extra: [String] = []) throws -> HTTPResponse {
        let client = try server.connect()
        defer { client.close() }
        try client.sendRequest("GET \(path) HTTP/1.1", headers: ["Host: 127.0.0.1", "Connection: close"] + extra)
        return try client.readHTTPResponse()
    }

    static func echo(_ client: RawClient, _ text: String) throws -> String {
        try client.sendFrame(opcode: 0x1, payload: Array(text.utf8))
        return String(decoding: try client.readMessage().payload, as: UTF8.self)
    }

    @Test("the right token opens the WebSocket via the subprotocol (lantern selected) and via Bearer")
    func rightToken() throws {
        let (server, path) = try Self.start()
        defer { server.stop(); unlink(path) }
        let viaProtocol = try RawClient.webSocket(
            address: .ipv4Loopback(server.port), extraHeaders: ["Sec-WebSocket-Protocol: lantern, lantern.token.\(Self.token)"])
        #expect(try Self.echo(viaProtocol, "one") == "one")
        viaProtocol.close()
        let response = try Self.upgrade(server, ["Sec-WebSocket-Protocol: lantern, lantern.token.\(Self.token)"])
        #expect(response.status == 101 && response.header("Sec-WebSocket-Protocol") == "lantern")
        let viaBearer = try RawClient.webSocket(address: .ipv4Loopback(server.port), extraHeaders: ["Authorization: Bearer \(Self.token)"])
        #expect(try Self.echo(viaBearer, "two") == "two")
        viaBearer.close()
        // The page and /healthz stay public.
        #expect(try Self.get(server, "/client").status == 200)
        #expect(try Self.get(server, "/healthz").status == 200)
    }

    @Test("missing, wrong, over-long and non-ASCII tokens get 403; nothing logs the token")
    func refused() throws {
        let (server, path) = try Self.start()
        defer { server.stop(); unlink(path) }
        let cases: [(String, [String])] = [
            ("missing", []),
            ("missing (lantern alone)", ["Sec-WebSocket-Protocol: lantern"]),
            ("wrong", ["Sec-WebSocket-Protocol: lantern, lantern.token.\(Self.token.dropLast())x"]),
            ("prefix", ["Authorization: Bearer \(Self.token.dropLast())"]),
            ("over-long", ["Authorization: Bearer \(Self.token)" + String(repeating: "a", count: 2000)]),
        ]
        for (name, extra) in cases {
            let response = try Self.upgrade(server, extra)
            #expect(response.status == 403, "\(name): \(response.statusLine)")
            #expect(response.header("Sec-WebSocket-Protocol") == nil, "\(name)")
        }
        // Non-ASCII (UTF-8 bytes) in the token position, sent raw.
        let client = try server.connect()
        var request = Array("GET /ws HTTP/1.1\r\n".utf8)
        for line in RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()) { request += Array((line + "\r\n").utf8) }
        request += Array("Authorization: Bearer ".utf8) + Array(Self.token.utf8.dropLast()) + [0xC3, 0xA9] + Array("\r\n\r\n".utf8)
        try client.send(request)
        #expect(try client.readHTTPResponse(bodyless: true).status == 403)
        client.close()
        #expect(server.stderrLine(containing: ["refused /ws 403 access token required"]) != nil, "\(server.stderr.text)")
        #expect(server.stderrLine(containing: ["refused /ws 403 access token wrong"]) != nil, "\(server.stderr.text)")
        #expect(!server.stderr.text.contains(String(Self.token.prefix(12))), "the log shows (part of) the token")
    }

    @Test("/metrics: 401 with a Bearer challenge without the token, 200 with it, refusals counted")
    func metrics() throws {
        let (server, path) = try Self.start()
        defer { server.stop(); unlink(path) }
        _ = try Self.upgrade(server, [])
        _ = try Self.upgrade(server, ["Authorization: Bearer not-the-token-at-all"])
        let denied = try Self.get(server, "/metrics")
        #expect(denied.status == 401)
        #expect(denied.header("WWW-Authenticate") == "Bearer realm=\"lantern\"")
        #expect(try Self.get(server, "/metrics", ["Authorization: Basic eDp5"]).status == 401)
        let allowed = try Self.get(server, "/metrics", ["Authorization: Bearer \(Self.token)"])
        #expect(allowed.status == 200)
        let text = String(decoding: allowed.body, as: UTF8.self)
        #expect(text.contains("lantern_requests_refused_total{status=\"403\"} 2"), "\(text)")
        #expect(text.contains("lantern_requests_refused_total{status=\"401\"} 2"), "\(text)")
        #expect(text.contains("lantern_access_denied_total{reason=\"missing\"} 3"), "\(text)")
        #expect(text.contains("lantern_access_denied_total{reason=\"wrong\"} 1"), "\(text)")
        #expect(text.contains("lantern_access_denied_total{reason=\"limited\"} 0"), "\(text)")
    }

    @Test("after 5 wrong tokens an address gets 429 with Retry-After, even with the right token")
    func rateLimited() throws {
        let (server, path) = try Self.start()
        defer { server.stop(); unlink(path) }
        // Missing tokens are not guesses: they never use up the burst.
        for _ in 0..<8 { #expect(try Self.upgrade(server, []).status == 403) }
        for i in 0..<5 { #expect(try Self.upgrade(server, ["Authorization: Bearer wrong-token-\(i)-xxxxxxxx"]).status == 403) }
        let limited = try Self.upgrade(server, ["Authorization: Bearer \(Self.token)"])
        #expect(limited.status == 429)
        let seconds = Int(limited.header("Retry-After") ?? "") ?? 0
        #expect((1...10).contains(seconds), "Retry-After \(limited.header("Retry-After") ?? "missing")")
        #expect(try Self.get(server, "/metrics", ["Authorization: Bearer \(Self.token)"]).status == 429)
        // The page and /healthz stay reachable while limited.
        #expect(try Self.get(server, "/healthz").status == 200)
    }

    @Test("a bad token file stops startup with exit 1 and a message without the content", arguments: [
        ("short", "tooshort\n", "at least 16"), ("bad character", "abcdefghijklmnop+qrs\n", "byte 17"), ("missing file", "", "cannot open"),
    ])
    func badFile(name: String, content: String, message: String) throws {
        let path = name == "missing file" ? "/nonexistent/lantern-token" : try Self.tokenFile(content)
        defer { unlink(path) }
        let process = try ServerProcess(rawArguments: ["--host", "127.0.0.1", "--port", "0", "--access-token-file", path])
        #expect(process.waitForExit(timeout: 5))
        process.stderr.waitForEOF(timeout: 2)
        #expect(process.exitStatus == 1)
        #expect(process.stderr.text.contains(message), "\(process.stderr.text)")
        #expect(content.isEmpty || !process.stderr.text.contains(content.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!process.stdout.text.contains("listening"))
    }
}
