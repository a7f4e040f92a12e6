import Foundation
import Testing

/// Issue 16: where the server listens (dual-stack by default, IPv4 fallback, a Unix socket)
/// and who it says the client is (trusted proxies).
@Suite("Network front", .serialized)
struct NetworkFrontTests {
    /// Starts the binary with `arguments` as given (no --host) and waits for its listening line.
    static func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (ServerProcess, String) {
        let server = try ServerProcess(rawArguments: arguments + ["--greeting", ""], environment: environment)
        var line: String?
        server.stdout.wait(timeout: 10) { text, eof in
            line = PipeCollector.completeLines(text).first
            return line != nil || eof
        }
        guard let line, line.hasPrefix("lantern listening on ") else {
            server.kill()
            throw HarnessError.noListeningLine(stdout: server.stdout.text, stderr: server.stderr.text)
        }
        return (server, String(line.dropFirst("lantern listening on ".count)))
    }

    static func port(of place: String) -> UInt16 { UInt16(place[place.index(after: place.lastIndex(of: ":")!)...]) ?? 0 }

    /// A fresh path for a Unix socket (short: sun_path holds 107 bytes).
    static func socketPath(_ name: String) -> String {
        "/tmp/lantern-test-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    static func echo(_ client: RawClient, _ text: String) throws -> String {
        try client.sendFrame(opcode: 0x1, payload: Array(text.utf8))
        let message = try client.readMessage()
        return String(decoding: message.payload, as: UTF8.self)
    }

    static func get(_ address: RawClient.Address, _ path: String, headers: [String] = []) throws -> HTTPResponse {
        let client = try RawClient(address: address)
        defer { client.close() }
        try client.sendRequest("GET \(path) HTTP/1.1", headers: ["Host: localhost", "Connection: close"] + headers)
        return try client.readHTTPResponse()
    }

    @Test("with no --host, one server answers on ::1 and 127.0.0.1, and logs IPv4 peers as dotted quads")
    func dualStackByDefault() throws {
        let (server, place) = try Self.launch(["--port", "0"])
        defer { server.stop() }
        #expect(place.hasPrefix("[::]:"), "listening line: \(place)")
        let port = Self.port(of: place)
        for address in [RawClient.Address.ipv4Loopback(port), .ipv6Loopback(port)] {
            let client = try RawClient.webSocket(address: address)
            #expect(try Self.echo(client, "hello \(address)") == "hello \(address)")
            client.close()
        }
        #expect(server.stderrLine(containing: ["ws-open", "peer=127.0.0.1:"]) != nil, "\(server.stderr.text)")
        #expect(server.stderrLine(containing: ["ws-open", "peer=[::1]:"]) != nil, "\(server.stderr.text)")
        #expect(!server.stderr.text.contains("::ffff:"), "an IPv4 peer logged in its mapped form")
        #expect(try Self.get(.ipv6Loopback(port), "/healthz").status == 200)
    }

    @Test("without IPv6 the default falls back to 0.0.0.0 and says so once")
    func ipv4Fallback() throws {
        let (server, place) = try Self.launch(["--port", "0"], environment: ["LANTERN_TEST_NO_IPV6": "1"])
        defer { server.stop() }
        #expect(place.hasPrefix("0.0.0.0:"), "listening line: \(place)")
        #expect(server.stderrLine(containing: ["IPv6 is not available here: listening on IPv4 only"]) != nil)
        let port = Self.port(of: place)
        #expect(try Self.get(.ipv4Loopback(port), "/healthz").status == 200)
        #expect(throws: (any Error).self) { try RawClient(address: .ipv6Loopback(port)) }
    }

    @Test("--host 0.0.0.0 is IPv4 only and --host :: is IPv6 only")
    func explicitHosts() throws {
        let (v4, place4) = try Self.launch(["--host", "0.0.0.0", "--port", "0"])
        defer { v4.stop() }
        #expect(place4.hasPrefix("0.0.0.0:"))
        #expect(throws: (any Error).self) { try RawClient(address: .ipv6Loopback(Self.port(of: place4))) }
        let (v6, place6) = try Self.launch(["--host", "::", "--port", "0"])
        defer { v6.stop() }
        #expect(place6.hasPrefix("[::]:"))
        let port6 = Self.port(of: place6)
        #expect(try Self.get(.ipv6Loopback(port6), "/healthz").status == 200)
        #expect(throws: (any Error).self) { try RawClient(address: .ipv4Loopback(port6)) }
    }

    @Test("over a Unix socket: page, health, metrics, WebSocket with deflate; the file goes on exit")
    func unixSocket() throws {
        let path = Self.socketPath("serve")
        let (server, place) = try Self.launch(["--unix-socket", path])
        #expect(place == "unix:\(path)")
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK)
        #expect(info.st_mode & 0o777 == 0o660, "mode \(String(info.st_mode & 0o777, radix: 8))")
        #expect(try Self.get(.unix(path), "/client").status == 200)
        #expect(try Self.get(.unix(path), "/healthz").status == 200)
        let metrics = try Self.get(.unix(path), "/metrics")
        #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("lantern_connections_total"))
        let client = try RawClient.webSocket(
            address: .unix(path), extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
        #expect(try Self.echo(client, "over a socket file") == "over a socket file")
        client.close()
        #expect(server.stderrLine(containing: ["ws-open", "peer=unix"]) != nil)
        server.send(signal: SIGTERM)
        #expect(server.waitForExit(timeout: 5) && server.exitStatus == 0)
        #expect(lstat(path, &info) != 0, "socket file left behind")
    }

    @Test("a stale socket file is replaced; a live one and a non-socket path are errors (exit 1), left as they are")
    func socketPathSafety() throws {
        let path = Self.socketPath("stale")
        // A crash leaves the file: SIGKILL gives no chance to remove it.
        let (crashed, _) = try Self.launch(["--unix-socket", path, "--unix-socket-mode", "0600"])
        crashed.kill()
        #expect(FileManager.default.fileExists(atPath: path))
        let (server, place) = try Self.launch(["--unix-socket", path, "--unix-socket-mode", "0600"])
        defer { server.stop() }
        #expect(place == "unix:\(path)")
        var info = stat()
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try Self.get(.unix(path), "/healthz").status == 200)
        // A second server on the same live socket must not steal it.
        let second = try ServerProcess(rawArguments: ["--unix-socket", path])
        #expect(second.waitForExit(timeout: 10) && second.exitStatus == 1)
        #expect(second.stderr.text.contains("another server is accepting"), "\(second.stderr.text)")
        #expect(try Self.get(.unix(path), "/healthz").status == 200, "the first server lost its socket")
        // A regular file is never removed.
        let file = Self.socketPath("file")
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: file))
        defer { unlink(file) }
        let refused = try ServerProcess(rawArguments: ["--unix-socket", file])
        #expect(refused.waitForExit(timeout: 10) && refused.exitStatus == 1)
        #expect(refused.stderr.text.contains("not a socket"), "\(refused.stderr.text)")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "keep me")
    }

    @Test("trusted proxy over the Unix socket: the forwarded client is logged; malformed is 400")
    func trustedProxy() throws {
        let path = Self.socketPath("proxy")
        let (server, _) = try Self.launch(["--unix-socket", path, "--trust-proxy", "unix", "--trust-proxy", "10.0.0.0/8"])
        defer { server.stop() }
        let client = try RawClient.webSocket(address: .unix(path), extraHeaders: ["X-Forwarded-For: 6.6.6.6, 198.51.100.23, 10.1.2.3"])
        #expect(try Self.echo(client, "via nginx") == "via nginx")
        client.close()
        #expect(server.stderrLine(containing: ["ws-open", "peer=198.51.100.23 "]) != nil, "\(server.stderr.text)")
        #expect(try Self.get(.unix(path), "/healthz", headers: ["Forwarded: for=\"[2001:db8::9]:4711\";proto=https"]).status == 200)
        #expect(server.stderrLine(containing: ["http GET /healthz 200 peer=[2001:db8::9]:4711"]) != nil, "\(server.stderr.text)")
        let bad = try Self.get(.unix(path), "/healthz", headers: ["X-Forwarded-For: 198.51.100"])
        #expect(bad.status == 400)
        #expect(server.stderrLine(containing: ["http refused", "400 malformed X-Forwarded-For"]) != nil)
    }

    @Test("proxy headers from a peer that is not trusted change nothing")
    func spoofedHeaders() throws {
        let server = try ServerProcess.start(["--trust-proxy", "10.0.0.0/8", "--greeting", ""])
        defer { server.stop() }
        let client = try RawClient.webSocket(address: .ipv4Loopback(server.port), extraHeaders: ["X-Forwarded-For: 198.51.100.23", "Forwarded: for=198.51.100.24"])
        #expect(try Self.echo(client, "spoof") == "spoof")
        client.close()
        #expect(server.stderrLine(containing: ["ws-open", "peer=127.0.0.1:"]) != nil, "\(server.stderr.text)")
        #expect(!server.stderr.text.contains("198.51.100"), "a spoofed address reached the log")
        // Not even a malformed one from a stranger is looked at.
        #expect(try Self.get(.ipv4Loopback(server.port), "/healthz", headers: ["X-Forwarded-For: nonsense"]).status == 200)
    }
}
