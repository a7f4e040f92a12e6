import Foundation
import Glibc
import Testing

// Operations (issue 6): Origin policy on upgrade, /healthz and /metrics, --log-level,
// LANTERN_* environment variables and --help.

// MARK: - Helpers shared with BroadcastTests

/// Small HTTP and WebSocket helpers over `RawClient`.
enum Ops {
    /// One request on a fresh connection; HEAD responses are read without a body.
    static func request(_ port: UInt16, _ path: String, method: String = "GET", headers: [String] = []) throws -> HTTPResponse {
        let client = try RawClient(port: port)
        defer { client.close() }
        try client.sendRequest("\(method) \(path) HTTP/1.1", headers: ["Host: 127.0.0.1:\(port)"] + headers)
        return try client.readHTTPResponse(bodyless: method == "HEAD")
    }

    /// `GET /metrics` as `name{labels}` -> value; records an issue for a line that is not a sample.
    static func metrics(_ port: UInt16, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Int] {
        let response = try request(port, "/metrics")
        #expect(response.status == 200, sourceLocation: sourceLocation)
        var samples: [String: Int] = [:]
        for line in String(decoding: response.body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Int(line[line.index(after: space)...]) else {
                Issue.record("not a sample line: \(line)", sourceLocation: sourceLocation)
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Stops the server (SIGTERM) and returns all it wrote on stderr, read to EOF: a test that a
    /// line is absent must not run while the line could still be on its way.
    static func allOutput(_ server: ServerProcess) -> String {
        server.stop()
        #expect(server.stderr.waitForEOF(timeout: 5), "stderr not closed after exit")
        return server.stderr.text
    }

    /// Sends an upgrade request with `origin` (none when nil) and returns the response status.
    static func upgradeStatus(_ port: UInt16, origin: String?, host: String? = nil) throws -> Int {
        let client = try RawClient(port: port)
        defer { client.close() }
        var headers = RawClient.upgradeHeaders(port: port, key: RawClient.makeKey())
        if let host { headers[0] = "Host: \(host)" }
        if let origin { headers.append("Origin: \(origin)") }
        try client.sendRequest("GET /ws HTTP/1.1", headers: headers)
        return try client.readHTTPResponse().status
    }

    /// Completes an upgrade with extra header lines and returns the client and the 101 response.
    static func webSocket(_ port: UInt16, extraHeaders: [String]) throws -> (RawClient, HTTPResponse) {
        let client = try RawClient(port: port)
        try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: port, key: RawClient.makeKey()) + extraHeaders)
        let response = try client.readHTTPResponse(bodyless: true)
        guard response.status == 101 else { throw ClientError.malformed("expected 101, got \(response.statusLine)") }
        return (client, response)
    }

    /// A port that was free a moment ago on 127.0.0.1.
    static func freePort() throws -> UInt16 {
        let (fd, port) = try loopbackListener()
        close(fd)
        return port
    }

    /// A socket listening on an ephemeral 127.0.0.1 port (no SO_REUSEADDR); the caller closes it.
    static func loopbackListener() throws -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HarnessError.system("socket", errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard ok else { let code = errno; close(fd); throw HarnessError.system("bind", code) }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// Lines of `text` containing `needle`.
    static func lines(_ text: String, containing needle: String) -> [String] {
        PipeCollector.completeLines(text).filter { $0.contains(needle) }
    }
}

// MARK: - Origin

extension OperationsTests {
    @Suite struct Origin {
        @Test func defaultPolicyAllowsNoOriginAndSameHostOnly() throws {
            let server = try ServerProcess.start()
            defer { server.stop() }
            let port = server.port
            #expect(try Ops.upgradeStatus(port, origin: nil) == 101)
            #expect(try Ops.upgradeStatus(port, origin: "http://127.0.0.1:\(port)") == 101)
            #expect(try Ops.upgradeStatus(port, origin: "HTTP://127.0.0.1:\(port)") == 101)
            #expect(try Ops.upgradeStatus(port, origin: "http://localhost:\(port)", host: "localhost:\(port)") == 101)
            for other in ["http://evil.example", "http://127.0.0.1:\(port &+ 1)", "http://localhost:\(port)",
                          "https://127.0.0.1", "null", "http://127.0.0.1.evil.example:\(port)"] {
                #expect(try Ops.upgradeStatus(port, origin: other) == 403, "\(other)")
            }
        }

        /// DNS rebinding: a page from a public name re-pointed at the box is "same host" with
        /// itself, so that only counts under local names; the refusal says how to allow one.
        @Test func sameHostUnderAPublicNameNeedsAllowOrigin() throws {
            let server = try ServerProcess.start()
            defer { server.stop() }
            let port = server.port
            #expect(try Ops.upgradeStatus(port, origin: "http://box.lan:\(port)", host: "box.lan:\(port)") == 101)
            #expect(try Ops.upgradeStatus(port, origin: "http://evil.example:\(port)", host: "evil.example:\(port)") == 403)
            #expect(server.stderrLine(containing: ["warn", "DNS rebinding", "--allow-origin http://evil.example:\(port)"]) != nil,
                    "stderr: \(server.stderr.text)")
            let named = try ServerProcess.start(["--allow-origin", "http://chat.example:\(port)"])
            defer { named.stop() }
            #expect(try Ops.upgradeStatus(named.port, origin: "http://chat.example:\(port)", host: "chat.example:\(port)") == 101)
        }

        @Test func forbiddenOriginGets403WithReasonAndIsCounted() throws {
            let server = try ServerProcess.start()
            defer { server.stop() }
            let client = try RawClient(port: server.port)
            try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()) + ["Origin: http://evil.example"])
            let response = try client.readHTTPResponse()
            #expect(response.status == 403)
            #expect(response.header("Sec-WebSocket-Accept") == nil)
            Expect.serverClosesTCP(client)
            #expect(server.stderrLine(containing: ["warn", "origin=http://evil.example"]) != nil, "stderr: \(server.stderr.text)")
            #expect(try Ops.metrics(server.port)["lantern_requests_refused_total{status=\"403\"}"] == 1)
        }

        @Test func allowOriginWidensThePolicy() throws {
            let server = try ServerProcess.start(["--allow-origin", "http://a.example", "--allow-origin", "https://B.example:8443"])
            defer { server.stop() }
            let port = server.port
            #expect(try Ops.upgradeStatus(port, origin: "http://a.example") == 101)
            #expect(try Ops.upgradeStatus(port, origin: "https://b.example:8443") == 101)
            #expect(try Ops.upgradeStatus(port, origin: nil) == 101)
            #expect(try Ops.upgradeStatus(port, origin: "http://127.0.0.1:\(port)") == 101)
            for other in ["http://c.example", "https://a.example", "http://a.example:8080", "http://a.example.evil", "null"] {
                #expect(try Ops.upgradeStatus(port, origin: other) == 403, "\(other)")
            }
        }

        @Test func allowOriginStarAllowsAny() throws {
            let server = try ServerProcess.start(["--allow-origin", "*"])
            defer { server.stop() }
            for origin in ["http://evil.example", "null", "https://x.example:1", "http://127.0.0.1:\(server.port)"] {
                #expect(try Ops.upgradeStatus(server.port, origin: origin) == 101, "\(origin)")
            }
        }

        @Test func allowOriginFromEnvironmentIsACommaList() throws {
            let server = try ServerProcess.start(environment: ["LANTERN_ALLOW_ORIGIN": "http://a.example,http://b.example"])
            defer { server.kill() }
            #expect(try Ops.upgradeStatus(server.port, origin: "http://a.example") == 101)
            #expect(try Ops.upgradeStatus(server.port, origin: "http://b.example") == 101)
            #expect(try Ops.upgradeStatus(server.port, origin: "http://c.example") == 403)
        }

        /// "a, b" is how people write lists; the space must not make the second entry unmatchable.
        @Test func allowOriginListToleratesSpacesAfterCommas() throws {
            let server = try ServerProcess.start(environment: ["LANTERN_ALLOW_ORIGIN": "http://a.example, http://b.example"])
            defer { server.kill() }
            #expect(try Ops.upgradeStatus(server.port, origin: "http://a.example") == 101)
            #expect(try Ops.upgradeStatus(server.port, origin: "http://b.example") == 101, "the entry after \", \" is never matched")
        }

        /// README: "a flag wins over the environment" — for a list, the flag's list replaces the variable's.
        @Test func allowOriginFlagWinsOverEnvironment() throws {
            let server = try ServerProcess.start(["--allow-origin", "http://flag.example"],
                                             environment: ["LANTERN_ALLOW_ORIGIN": "http://env.example"])
            defer { server.kill() }
            #expect(try Ops.upgradeStatus(server.port, origin: "http://flag.example") == 101)
            #expect(try Ops.upgradeStatus(server.port, origin: "http://env.example") == 403, "the environment's origin is still allowed although a flag was given")
        }
    }
}

// MARK: - /healthz and /metrics

@Suite(.timeLimit(.minutes(1)))
struct OperationsTests {
    @Test func healthzSaysOk() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let response = try Ops.request(server.port, "/healthz")
        #expect(response.status == 200)
        #expect(response.body == Array("ok\n".utf8))
        #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
        #expect(response.header("Content-Length") == "3")
        #expect(response.header("Cache-Control") == "no-store")
    }

    @Test func headAnswersWithoutABodyAndKeepsTheConnection() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        defer { client.close() }
        for path in ["/healthz", "/metrics"] {
            try client.sendRequest("HEAD \(path) HTTP/1.1", headers: ["Host: 127.0.0.1:\(server.port)"])
            let head = try client.readHTTPResponse(bodyless: true)
            #expect(head.status == 200, "\(path)")
            #expect(Int(head.header("Content-Length") ?? "") ?? 0 > 0, "\(path)")
        }
        // The same connection goes on: had HEAD sent a body, this response would start mid-body.
        try client.sendRequest("GET /healthz HTTP/1.1", headers: ["Host: 127.0.0.1:\(server.port)"])
        let get = try client.readHTTPResponse()
        #expect(get.status == 200 && get.body == Array("ok\n".utf8), "\(get.statusLine)")
    }

    @Test func otherMethodsOnOperationsPathsAreRefused() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        for path in ["/healthz", "/metrics"] {
            let response = try Ops.request(server.port, path, method: "POST", headers: ["Content-Length: 0"])
            #expect(response.status == 405, "\(path): \(response.statusLine)")
        }
    }

    @Test func metricsIsPrometheusText() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let response = try Ops.request(server.port, "/metrics")
        #expect(response.status == 200)
        let type = response.header("Content-Type") ?? ""
        #expect(type.hasPrefix("text/plain") && type.contains("version=0.0.4"), "Content-Type: \(type)")
        let text = String(decoding: response.body, as: UTF8.self)
        #expect(text.hasSuffix("\n"))
        var declared: Set<String> = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                #expect(parts.count == 4, "\(line)")
                if line.hasPrefix("# TYPE ") {
                    #expect(["counter", "gauge"].contains(String(parts[3])), "\(line)")
                    declared.insert(String(parts[2]))
                }
                continue
            }
            // name{label="value"} integer
            let sample = line.wholeMatch(of: /(lantern_[a-z_]+)(\{[a-z]+="[^"\\]*"\})? (\d+)/)
            #expect(sample != nil, "not a sample: \(line)")
            if let sample { #expect(declared.contains(String(sample.1)), "sample before its TYPE: \(line)") }
        }
        for name in ["lantern_websocket_connections_open", "lantern_connections_total", "lantern_messages_received_total",
                     "lantern_messages_sent_total", "lantern_bytes_received_total", "lantern_bytes_sent_total",
                     "lantern_deflate_bytes_received_total", "lantern_deflate_bytes_sent_total",
                     "lantern_requests_refused_total", "lantern_websocket_closes_total", "lantern_resident_memory_bytes"] {
            #expect(declared.contains(name), "\(name) missing")
        }
        let samples = try Ops.metrics(server.port)
        let rss = samples["lantern_resident_memory_bytes"] ?? 0
        // Plausible, not a budget: the musl Embedded build idles at ~370 KB.
        #expect(rss > 64 << 10 && rss < 1 << 30, "resident_memory_bytes \(rss)")
    }

    @Test func countersFollowAnEchoSession() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let port = server.port
        let before = try Ops.metrics(port)
        #expect(before["lantern_websocket_connections_open"] == 0)
        #expect(before["lantern_messages_received_total"] == 0)

        let client = try server.webSocket()
        #expect(try Poll.until { try Ops.metrics(port)["lantern_websocket_connections_open"] == 1 })
        let sizes = [1, 10, 125, 126, 1000, 65536, 7]
        for (i, size) in sizes.enumerated() {
            let payload = i % 2 == 0 ? Payload.text(size) : Payload.binary(size)
            try client.sendFrame(opcode: i % 2 == 0 ? Op.text : Op.binary, payload: payload)
            Expect.bytes(try client.readMessage().payload, equal: payload, "echo \(i)")
        }
        // A message counts as sent once the kernel took all of it; the client can read the echo
        // before the server's send returns, so the sent counters may trail the last echo briefly.
        #expect(try Poll.until {
            let m = try Ops.metrics(port)
            return m["lantern_messages_sent_total"] == sizes.count && m["lantern_bytes_sent_total"] == sizes.reduce(0, +)
        })
        let during = try Ops.metrics(port)
        #expect(during["lantern_messages_received_total"] == sizes.count)
        #expect(during["lantern_bytes_received_total"] == sizes.reduce(0, +))
        #expect(during["lantern_messages_sent_total"] == sizes.count)
        #expect(during["lantern_bytes_sent_total"] == sizes.reduce(0, +))
        #expect(during["lantern_websocket_upgrades_total"] == 1)
        #expect(during["lantern_websocket_closes_total{code=\"1000\"}"] == 0)

        try client.sendClose(code: 1000)
        Expect.serverCloses(client, codes: [1000])
        // The close is counted once the server's connection thread finishes (just after TCP ends).
        #expect(try Poll.until {
            let m = try Ops.metrics(port)
            return m["lantern_websocket_closes_total{code=\"1000\"}"] == 1 && m["lantern_websocket_connections_open"] == 0
        }, "after a clean close: closes_total{code=1000} and connections_open did not settle")
        let after = try Ops.metrics(port)
        #expect(after["lantern_messages_received_total"] == sizes.count, "a close frame is not a message")
        #expect(after["lantern_requests_refused_total{status=\"403\"}"] == 0)

        // An abrupt TCP close counts as 1006, a forbidden origin as a 403 refusal.
        let dropped = try server.webSocket()
        dropped.close()
        #expect(try Ops.upgradeStatus(port, origin: "http://evil.example") == 403)
        #expect(try Poll.until {
            let m = try Ops.metrics(port)
            return m["lantern_websocket_closes_total{code=\"1006\"}"] == 1 && m["lantern_requests_refused_total{status=\"403\"}"] == 1
        })
        #expect(try Ops.metrics(port)["lantern_websocket_upgrades_total"] == 2)
    }

    @Test func greetingIsCountedAsASentMessage() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.webSocket()
        _ = try client.readMessage()  // the greeting
        // Counted when the write returns, which may be just after the client read it.
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_messages_sent_total"] == 1 },
                "the greeting is a message on the wire but was not counted as sent")
        let m = try Ops.metrics(server.port)
        #expect(m["lantern_websocket_connections_open"] == 1)
        #expect(m["lantern_messages_sent_total"] == 1, "one greeting, one message")
    }

    @Test func requestsAreCounted() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        _ = try Ops.request(server.port, "/healthz")
        _ = try Ops.request(server.port, "/no-such-page")
        let m = try Ops.metrics(server.port)
        #expect(m["lantern_requests_refused_total{status=\"404\"}"].map { $0 <= 1 } ?? false)
        #expect((m["lantern_http_requests_total"] ?? 0) >= 2)
        #expect((m["lantern_connections_total"] ?? 0) >= 3)
    }
}

// MARK: - Logging

extension OperationsTests {
    @Suite struct LogLevel {
        /// One HTTP request, one WebSocket with `messages` echoes and a clean close, then a forbidden
        /// origin (a warn line, which also marks the end of the earlier events in the log).
        private func exercise(_ server: ServerProcess, messages: Int) throws {
            _ = try Ops.request(server.port, "/healthz")
            let client = try server.webSocket()
            _ = try client.readMessage()  // greeting
            for i in 0..<messages {
                let payload = Array("message-marker-\(i)".utf8)
                try client.sendFrame(opcode: Op.text, payload: payload)
                #expect(try client.readMessage().payload == payload)
            }
            try client.sendClose(code: 1000)
            Expect.serverCloses(client, codes: [1000])
            _ = Poll.until { (try? Ops.metrics(server.port)["lantern_websocket_connections_open"]) == 0 }
            #expect(try Ops.upgradeStatus(server.port, origin: "http://evil.example") == 403)
        }

        @Test func warnHidesAccessAndConnectionLines() throws {
            let server = try ServerProcess.start(["--log-level", "warn"])
            defer { server.stop() }
            try exercise(server, messages: 3)
            #expect(server.stderrLine(containing: ["warn", "origin=http://evil.example"]) != nil, "stderr: \(server.stderr.text)")
            // Absence is checked on everything the process ever wrote: after its exit and EOF.
            let text = Ops.allOutput(server)
            #expect(Ops.lines(text, containing: "http GET").isEmpty, "stderr: \(text)")
            #expect(Ops.lines(text, containing: "ws-open").isEmpty, "stderr: \(text)")
            #expect(Ops.lines(text, containing: "ws-close").isEmpty, "stderr: \(text)")
            #expect(Ops.lines(text, containing: " info ").isEmpty, "stderr: \(text)")
        }

        @Test func errorHidesWarnings() throws {
            let server = try ServerProcess.start(["--log-level", "error"])
            defer { server.stop() }
            try exercise(server, messages: 1)
            #expect(Ops.allOutput(server).isEmpty, "stderr: \(server.stderr.text)")
        }

        @Test func infoLogsEventsButNotMessages() throws {
            let server = try ServerProcess.start(["--log-level", "info"])
            defer { server.stop() }
            try exercise(server, messages: 100)
            #expect(server.stderrLine(containing: ["warn", "origin=http://evil.example"]) != nil)
            #expect(server.stderrLine(containing: ["info", "http GET /healthz 200"]) != nil, "stderr: \(server.stderr.text)")
            #expect(server.stderrLine(containing: ["info", "ws-open"]) != nil, "stderr: \(server.stderr.text)")
            #expect(server.stderrLine(containing: ["ws-close", "code=1000"]) != nil, "stderr: \(server.stderr.text)")
            let lines = PipeCollector.completeLines(server.stderr.text)
            // healthz, /metrics polls, ws-open, ws-close, the refusal: a handful, never ~100.
            let nonMetrics = lines.filter { !$0.contains("/metrics") }
            #expect(nonMetrics.count < 10, "\(nonMetrics.count) lines for 100 messages:\n\(nonMetrics.joined(separator: "\n"))")
            #expect(lines.allSatisfy { !$0.contains("message-marker") })
            #expect(lines.allSatisfy { $0.hasPrefix("lantern: ") }, "\(lines)")
        }

        @Test func defaultLevelIsInfo() throws {
            let server = try ServerProcess.start()
            defer { server.stop() }
            _ = try Ops.request(server.port, "/healthz")
            #expect(server.stderrLine(containing: ["info", "http GET /healthz 200"]) != nil, "stderr: \(server.stderr.text)")
        }
    }
}

// MARK: - Environment and --help

extension OperationsTests {
    @Suite struct Environment {
        @Test func portHostAndGreetingComeFromTheEnvironment() throws {
            let port = try Ops.freePort()
            let server = try ServerProcess.launch([], environment: ["LANTERN_HOST": "127.0.0.1", "LANTERN_PORT": String(port),
                                                               "LANTERN_GREETING": "hello from env"])
            defer { server.kill() }
            #expect(server.host == "127.0.0.1")
            #expect(server.port == port)
            let client = try RawClient.webSocket(port: server.port)
            #expect(try client.readMessage().payload == Array("hello from env".utf8))
        }

        @Test func flagsWinOverTheEnvironment() throws {
            let envPort = try Ops.freePort()
            let server = try ServerProcess.launch(["--host", "127.0.0.1", "--port", "0", "--greeting", "from the flag"],
                                             environment: ["LANTERN_HOST": "0.0.0.0", "LANTERN_PORT": String(envPort),
                                                           "LANTERN_GREETING": "from env"])
            defer { server.kill() }
            #expect(server.host == "127.0.0.1")
            #expect(server.port != envPort)
            let client = try RawClient.webSocket(port: server.port)
            #expect(try client.readMessage().payload == Array("from the flag".utf8))
        }

        @Test func emptyGreetingFromEnvironmentSendsNone() throws {
            let server = try ServerProcess.start(environment: ["LANTERN_GREETING": ""])
            defer { server.kill() }
            let client = try RawClient.webSocket(port: server.port)
            try client.sendFrame(opcode: Op.text, payload: Array("first".utf8))
            #expect(try client.readMessage().payload == Array("first".utf8))
        }

        @Test func modeLogLevelAndSwitchesComeFromTheEnvironment() throws {
            let server = try ServerProcess.start(environment: ["LANTERN_MODE": "broadcast", "LANTERN_GREETING": "",
                                                               "LANTERN_LOG_LEVEL": "warn", "LANTERN_NO_DEFLATE": "1"])
            defer { server.kill() }
            let (a, response) = try Ops.webSocket(server.port, extraHeaders: ["Sec-WebSocket-Extensions: permessage-deflate"])
            #expect(response.header("Sec-WebSocket-Extensions") == nil, "LANTERN_NO_DEFLATE=1 ignored")
            let b = try RawClient.webSocket(port: server.port)
            #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_connections_open"] == 2 })
            try a.sendFrame(opcode: Op.text, payload: Array("to all".utf8))
            #expect(try b.readMessage().payload == Array("to all".utf8), "LANTERN_MODE=broadcast ignored")
            #expect(try a.readMessage().payload == Array("to all".utf8))
            #expect(Ops.lines(Ops.allOutput(server), containing: "ws-open").isEmpty, "LANTERN_LOG_LEVEL=warn ignored: \(server.stderr.text)")
        }

        @Test(arguments: [("LANTERN_PORT", "http"), ("LANTERN_MODE", "chat"), ("LANTERN_LOG_LEVEL", "loud"),
                          ("LANTERN_NO_DEFLATE", "maybe"), ("LANTERN_MAX_QUEUED_BYTES", "12")])
        func invalidEnvironmentValueExits2NamingTheVariable(name: String, value: String) throws {
            let server = try ServerProcess(rawArguments: ["--port", "0"], environment: [name: value])
            defer { server.kill() }
            #expect(server.waitForExit(timeout: 5))
            server.stderr.waitForEOF(timeout: 2)
            #expect(server.exitStatus == 2)
            #expect(server.stderr.text.contains(name), "stderr: \(server.stderr.text)")
        }

        @Test func helpListsEveryFlagWithItsVariableAndDefault() throws {
            let process = try ServerProcess(rawArguments: ["--help"])
            #expect(process.waitForExit(timeout: 5))
            process.stdout.waitForEOF(timeout: 2)
            #expect(process.exitStatus == 0)
            let lines = PipeCollector.completeLines(process.stdout.text)
            // "  --flag VALUE   help [default]" (possibly wrapped), then the variable on its own line.
            var listed: [String: (env: String, text: String)] = [:]
            var i = 0
            while i < lines.count {
                let trimmed = lines[i].trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("--"), let flag = trimmed.split(separator: " ").first.map(String.init) else { i += 1; continue }
                var text = trimmed
                var j = i + 1
                while j < lines.count, !lines[j].trimmingCharacters(in: .whitespaces).hasPrefix("--") {
                    text += " " + lines[j].trimmingCharacters(in: .whitespaces)
                    j += 1
                    if lines[j - 1].contains("LANTERN_") { break }
                }
                let env = text.split(separator: " ").last.map(String.init) ?? ""
                listed[flag] = (env.hasPrefix("LANTERN_") ? env : "", text)
                i = j
            }
            let valued = ["--host", "--port", "--greeting", "--max-message-bytes", "--max-buffered-bytes", "--max-header-bytes", "--max-connections",
                          "--handshake-timeout", "--ping-interval", "--idle-timeout", "--send-timeout", "--busy-poll-us", "--deflate-memory",
                          "--deflate-window-bits", "--deflate-mem-level", "--deflate-level", "--deflate-client-window-bits",
                          "--deflate-threshold", "--deflate-budget", "--mode", "--max-queued-bytes", "--allow-origin", "--log-level",
                          "--unix-socket", "--unix-socket-mode", "--trust-proxy", "--access-token-file", "--exec-env", "--exec-grace"]
            let switches = ["--no-deflate", "--deflate-server-no-context-takeover", "--deflate-client-no-context-takeover"]
            for flag in valued + switches {
                let expectedEnv = "LANTERN_" + flag.dropFirst(2).uppercased().replacingOccurrences(of: "-", with: "_")
                guard let entry = listed[flag] else { Issue.record("\(flag) missing from --help"); continue }
                #expect(entry.env == expectedEnv, "\(flag): \(entry.text)")
                if valued.contains(flag) {
                    #expect(entry.text.contains("[") && entry.text.contains("]"), "\(flag) shows no default: \(entry.text)")
                }
            }
            #expect(Set(listed.keys).subtracting(valued + switches) == ["--help", "--version"], "unexpected entries: \(listed.keys.sorted())")
        }
    }
}
