import Testing
@testable import Lantern

/// Feeds `chunks` and returns the lines in order, as strings.
private func lines(_ chunks: [String], max: Int = 16) throws(LineSplitter.Overflow) -> ([String], LineSplitter) {
    var splitter = LineSplitter(maxLineBytes: max)
    var out: [String] = []
    for chunk in chunks {
        let bytes = Array(chunk.utf8)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(LineSplitter.Overflow) in try splitter.feed(raw) { out.append(String(decoding: $0, as: UTF8.self)) } }
        }
        try result.get()
    }
    return (out, splitter)
}

@Suite("LineSplitter")
struct LineSplitterTests {
    @Test("lines across and within chunks come out whole and in order", arguments: [
        (["a\nb\n"], ["a", "b"]), (["a", "b\n"], ["ab"]), (["\n\n"], ["", ""]), (["ab", "", "c\nd"], ["abc"]),
        (["a\r\n"], ["a\r"]), (["0123456789abcdef\n"], ["0123456789abcdef"]), (["01234567", "89abcdef\n"], ["0123456789abcdef"]),
    ] as [([String], [String])])
    func split(chunks: [String], expected: [String]) throws {
        #expect(try lines(chunks).0 == expected)
    }

    @Test("the unfinished last line is kept for finish()")
    func finish() throws {
        var (out, splitter) = try lines(["a\nbc"])
        #expect(out == ["a"])
        #expect(splitter.finish() == Array("bc".utf8))
        #expect(splitter.finish() == nil)
        (out, splitter) = try lines(["a\n"])
        #expect(splitter.finish() == nil)
    }

    @Test("one byte over the limit, whole or in pieces, is refused", arguments: [
        ["0123456789abcdefX\n"], ["0123456789abcdefX"], ["01234567", "89abcdefX"], ["0123456789abcdef", "X\n"],
    ])
    func overflow(chunks: [String]) {
        #expect(throws: LineSplitter.Overflow.lineTooLong) { _ = try lines(chunks) }
    }

    @Test("lines before an overflow in the same chunk are delivered first")
    func linesBeforeOverflow() {
        var splitter = LineSplitter(maxLineBytes: 4)
        var out: [String] = []
        let bytes = Array("ok\nfine\ntoo long\n".utf8)
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(LineSplitter.Overflow) in try splitter.feed(raw) { out.append(String(decoding: $0, as: UTF8.self)) } }
        }
        #expect(out == ["ok", "fine"])
        #expect(throws: LineSplitter.Overflow.lineTooLong) { try result.get() }
    }

    @Test("held bytes never pass the limit")
    func heldBytesBounded() {
        var splitter = LineSplitter(maxLineBytes: 8)
        let bytes = [UInt8](repeating: 0x61, count: 100)
        _ = bytes.withUnsafeBytes { raw in Result { () throws(LineSplitter.Overflow) in try splitter.feed(raw) { _ in } } }
        #expect(splitter.pending.count == 8)
    }
}

@Suite("ProgramExit")
struct ProgramExitTests {
    @Test("wait statuses decode to the lifecycle table's close codes", arguments: [
        (0x0000, ProgramExit.exited(0), UInt16(1000)), (0x0300, .exited(3), 1011), (0xff00, .exited(255), 1011),
        (0x0009, .signaled(9), 1011), (0x000f, .signaled(15), 1011), (0x0086, .signaled(6), 1011),  // 0x80: core dumped
    ] as [(Int32, ProgramExit, UInt16)])
    func decode(status: Int32, exit: ProgramExit, code: UInt16) {
        #expect(ProgramExit(waitStatus: status) == exit)
        #expect(exit.closeCode.rawValue == code)
    }

    @Test("log text") func text() {
        #expect(ProgramExit.exited(3).text == "status=3")
        #expect(ProgramExit.signaled(9).text == "signal=9")
    }
}

@Suite("ProgramEnvironment")
struct ProgramEnvironmentTests {
    private func head(_ text: String) throws -> HTTPRequestHead {
        let bytes = Array(text.utf8)
        return try #require(try bytes.withUnsafeBytes { try HTTPRequestHead.parse($0, maxBytes: 8192) }).0
    }

    private func build(_ request: String, client: PeerAddress, port: UInt16? = 8080, passing: [String] = [],
                       env: [String: String] = [:]) throws -> [String: String] {
        let list = ProgramEnvironment.build(connectionID: 7, client: client, serverPort: port, head: try head(request),
                                            passing: passing, version: "9.9", lookup: { env[$0] })
        var map: [String: String] = [:]
        for item in list {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            #expect(map[String(parts[0])] == nil, "\(parts[0]) twice")
            map[String(parts[0])] = String(parts[1])
        }
        return map
    }

    private let upgrade = "GET /ws?room=a&x=1 HTTP/1.1\r\nHost: box:8080\r\nOrigin: http://box:8080\r\nUser-Agent: UA/1\r\n"
        + "Accept-Language: fr\r\nSec-WebSocket-Protocol: lantern, lantern.token.SECRETSECRETSECRET\r\n"
        + "Authorization: Bearer SECRETSECRETSECRET\r\nCookie: c=SECRETSECRETSECRET\r\nX-Other: y\r\n\r\n"

    @Test("the CGI-like set, and nothing else")
    func cgiSet() throws {
        let ip = try #require(IPAddress(Array("203.0.113.9".utf8)))
        let env = try build(upgrade, client: .ip(ip, port: 5000), env: ["PATH": "/bin", "HOME": "/root", "LANTERN_PORT": "1"])
        #expect(env == [
            "PATH": "/bin", "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": "lantern/9.9", "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": "GET", "REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "5000", "SERVER_PORT": "8080",
            "REQUEST_URI": "/ws?room=a&x=1", "PATH_INFO": "/ws", "QUERY_STRING": "room=a&x=1", "HTTP_HOST": "box:8080",
            "HTTP_ORIGIN": "http://box:8080", "HTTP_USER_AGENT": "UA/1", "HTTP_ACCEPT_LANGUAGE": "fr", "LANTERN_CONNECTION_ID": "7",
        ])
        #expect(!ProgramEnvironment.build(connectionID: 7, client: .unix, serverPort: nil, head: try head(upgrade), passing: [],
                                          version: "1", lookup: { _ in nil }).contains { $0.contains("SECRET") },
                "never the access token (nor the cookie)")
    }

    @Test("--exec-env passes named variables; PATH has a default; a Unix socket has no ports")
    func passing() throws {
        let env = try build("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", client: .unix, port: nil, passing: ["HOME", "MISSING", "PATH"],
                            env: ["HOME": "/root"])
        #expect(env["HOME"] == "/root")
        #expect(env["MISSING"] == nil)
        #expect(env["PATH"] == ProgramEnvironment.defaultPath)
        #expect(env["REMOTE_ADDR"] == nil && env["REMOTE_PORT"] == nil && env["SERVER_PORT"] == nil)
        #expect(env["QUERY_STRING"] == "")
        let named = try build("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", client: .name("_hidden"))
        #expect(named["REMOTE_ADDR"] == "_hidden" && named["REMOTE_PORT"] == nil)
        let v6 = try build("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", client: .ip(try #require(IPAddress(Array("::1".utf8))), port: 1))
        #expect(v6["REMOTE_ADDR"] == "::1", "no brackets: an address, not an authority")
    }
}

@Suite("LogRateLimit")
struct LogRateLimitTests {
    @Test("a burst, then the steady rate, with the dropped lines counted")
    func bucket() {
        var limit = LogRateLimit(burst: 3, perSecond: 2, nowMs: 1_000)
        var allowed: [Bool] = []
        for now in [1_000, 1_000, 1_000, 1_000, 1_400, 1_500] as [Int64] { allowed.append(limit.allow(nowMs: now)) }
        #expect(allowed == [true, true, true, false, false, true], "a burst of 3, then one line per 500 ms")
        #expect(limit.dropped == 2)
        limit.reported()
        allowed = []
        for now in [1_600, 100_000, 100_000, 100_000, 100_000] as [Int64] { allowed.append(limit.allow(nowMs: now)) }
        #expect(allowed == [false, true, true, true, false], "refilled to the burst, no more")
        #expect(limit.dropped == 2)
    }

    @Test("months of uptime: milliseconds past 2^31 do not trap")
    func largeClock() {
        var limit = LogRateLimit(burst: 1, perSecond: 1, nowMs: 20_000_000_000)
        let first = limit.allow(nowMs: 20_000_000_000)
        let second = limit.allow(nowMs: 20_000_001_000)
        #expect(first && second)
    }
}

@Suite("lantern -- PROGRAM")
struct ProgramCommandLineTests {
    @Test("everything after -- is the program, as given")
    func program() throws {
        let c = try #require(runConfiguration(parseCommandLine(["--port", "1", "--", "./a.sh", "--port", "x y", "--"])))
        #expect(c.program == ["./a.sh", "--port", "x y", "--"])
        #expect(c.mode == .exec)
        #expect(c.port == 1)
        #expect(c.greeting.isEmpty, "no echo greeting before a program's output")
        let greeted = try #require(runConfiguration(parseCommandLine(["--greeting", "hi", "--", "cat"])))
        #expect(greeted.greeting == Array("hi".utf8))
        let fromEnv = try #require(runConfiguration(parseCommandLine(["--", "cat"], ["LANTERN_GREETING": "env"])))
        #expect(fromEnv.greeting == Array("env".utf8))
        #expect(try #require(runConfiguration(parseCommandLine([]))).program == nil)
    }

    @Test("bad uses", arguments: [["--"], ["--", ""], ["--mode", "broadcast", "--", "cat"], ["--exec-env", "A=B", "--", "cat"], ["--exec-grace", "x"]])
    func bad(args: [String]) { #expect(isUsageError(parseCommandLine(args)), "\(args)") }

    @Test("--exec-env repeats, the environment takes a list, a flag replaces it; --exec-grace")
    func execEnv() throws {
        let c = try #require(runConfiguration(parseCommandLine(["--exec-env", "HOME", "--exec-env", "TZ", "--exec-grace", "0.25", "--", "cat"],
                                                               ["LANTERN_EXEC_ENV": "LANG"])))
        #expect(c.programEnvironment == ["HOME", "TZ"])
        #expect(c.limits.programGraceMs == 250)
        let e = try #require(runConfiguration(parseCommandLine(["--", "cat"], ["LANTERN_EXEC_ENV": "LANG, LC_ALL"])))
        #expect(e.programEnvironment == ["LANG", "LC_ALL"])
    }
}
