import Testing
@testable import Lantern

/// Parses a request head from text (CRLFs included by the caller).
func parseHead(_ bytes: [UInt8], maxBytes: Int = 8192) throws -> (HTTPRequestHead, Int)? {
    try bytes.withUnsafeBytes { try HTTPRequestHead.parse($0, maxBytes: maxBytes) }
}

func parseHead(_ text: String, maxBytes: Int = 8192) throws -> (HTTPRequestHead, Int)? {
    try parseHead(Array(text.utf8), maxBytes: maxBytes)
}

/// The HTTP status a throwing call fails with, or nil if it does not throw a `HTTPError`.
func handshakeStatus(_ body: () throws -> Void) -> Int? {
    do { try body() } catch let e as HTTPError { return e.status } catch { return -1 }
    return nil
}

/// A request head from lines, CRLF-terminated, with the blank line.
func request(_ lines: [String]) -> String { lines.map { $0 + "\r\n" }.joined() + "\r\n" }

/// The RFC 6455 §1.2 sample client handshake.
let rfcUpgradeLines = [
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
]

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite("HTTPRequestHead")
struct HTTPRequestHeadTests {
    @Test("the RFC 6455 §1.2 upgrade request, fed whole, byte by byte and in halves")
    func fullRequest() throws {
        let bytes = Array(request(rfcUpgradeLines).utf8)
        // Whole, with the first bytes of a frame already behind it.
        let (head, length) = try #require(try parseHead(bytes + hex("81 85 37 fa")))
        #expect(length == bytes.count)
        #expect(text(head.method) == "GET")
        #expect(text(head.target) == "/chat")
        #expect(head.minorVersion == 1)
        #expect(head.headers.map { text($0.name) } == ["host", "upgrade", "connection", "sec-websocket-key", "origin",
                                                       "sec-websocket-protocol", "sec-websocket-version"])
        #expect(head.values("sec-websocket-protocol").map(text) == ["chat, superchat"])
        #expect(try head.single("host").map(text) == "server.example.com")
        #expect(try head.single("cookie") == nil)
        #expect(head.hasToken("sec-websocket-protocol", "superchat"))
        #expect(head.hasToken("upgrade", "websocket"))
        #expect(!head.hasToken("upgrade", "h2c"))
        // Every strict prefix (byte by byte, or the first half of any split) needs more bytes.
        for n in 0..<bytes.count {
            #expect(try parseHead(Array(bytes[..<n])) == nil, "prefix of \(n) bytes")
        }
        // Byte by byte into a growing buffer: nil until the last byte.
        var buffer: [UInt8] = []
        for (i, b) in bytes.enumerated() {
            buffer.append(b)
            let result = try parseHead(buffer)
            #expect((result == nil) == (i < bytes.count - 1), "after byte \(i)")
            if let result { #expect(result.1 == bytes.count) }
        }
    }

    @Test("header names are lower-cased and values trimmed")
    func namesAndValues() throws {
        let (head, _) = try #require(try parseHead(request(["GET / HTTP/1.1", "HOST:   example.com \t ", "X-Empty:", "X-Tab:\tv a l\t", "x-MiXeD:ÄÖ"])))
        #expect(head.headers.map { text($0.name) } == ["host", "x-empty", "x-tab", "x-mixed"])
        #expect(head.headers.map { text($0.value) } == ["example.com", "", "v a l", "ÄÖ"])
    }

    @Test("several lines of the same header")
    func repeatedHeader() throws {
        let (head, _) = try #require(try parseHead(request(["GET / HTTP/1.1", "Connection: keep-alive", "Host: a", "connection: Upgrade"])))
        #expect(head.values("connection").map(text) == ["keep-alive", "Upgrade"])
        #expect(head.hasToken("connection", "upgrade"))
        #expect(head.hasToken("connection", "keep-alive"))
        #expect(handshakeStatus { _ = try head.single("connection") } == 400)
    }

    @Test("tokens are matched case-insensitively and trimmed within lists")
    func tokens() throws {
        let (head, _) = try #require(try parseHead(request(["GET / HTTP/1.1", "Connection: keep-alive ,\tUPGRADE , ", "X: upgrade-ish"])))
        #expect(head.hasToken("connection", "upgrade"))
        #expect(!head.hasToken("x", "upgrade"))
        #expect(!head.hasToken("missing", "upgrade"))
    }

    @Test("a head longer than maxBytes without its blank line", arguments: [64, 256, 8192])
    func tooLarge(max: Int) throws {
        let long = Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: max * 2)).utf8)
        #expect(try parseHead(Array(long[..<(max - 1)]), maxBytes: max) == nil)
        #expect(handshakeStatus { _ = try parseHead(Array(long[..<max]), maxBytes: max) } == 431)
        #expect(handshakeStatus { _ = try parseHead(long, maxBytes: max) } == 431)
        #expect(throws: HTTPError.headerTooLarge) { try parseHead(long, maxBytes: max) }
        // A blank line that arrives only after the limit does not help.
        #expect(handshakeStatus { _ = try parseHead(long + Array("\r\n\r\n".utf8), maxBytes: max) } == 431)
    }

    @Test("a head of exactly maxBytes is accepted")
    func exactlyMax() throws {
        let head = Array(request(["GET / HTTP/1.1", "Host: a"]).utf8)
        #expect(try parseHead(head, maxBytes: head.count)?.1 == head.count)
        #expect(handshakeStatus { _ = try parseHead(head, maxBytes: head.count - 1) } == 431)
    }

    @Test("malformed heads are 400", arguments: [
        request(["GET /chat"]),
        request(["GET  /chat HTTP/1.1"]),
        request(["GET /chat HTTP/1.1 extra"]),
        request([" GET /chat HTTP/1.1"]),
        request(["GET chat HTTP/1.1"]),
        request(["GET http:/example.com/ HTTP/1.1"]),
        request(["GET ftp://example.com/ HTTP/1.1"]),
        request(["GET http:///a HTTP/1.1"]),
        request(["GET http://user@example.com/ HTTP/1.1"]),
        request(["GET * HTTP/1.1"]),
        request(["options * HTTP/1.1"]),
        request(["OPTIONS ** HTTP/1.1"]),
        request(["G@T / HTTP/1.1"]),
        request(["GET /a\u{7F} HTTP/1.1"]),
        request(["GET / HTTP/1.10"]),
        request(["GET / HTTP/11.1"]),
        request(["GET / HTTP/1.x"]),
        request(["GET / HTTP/a.1"]),
        request(["GET / HTTP/1,1"]),
        request(["GET http://:80/ HTTP/1.1"]),
        request(["GET http://a:b/ HTTP/1.1"]),
        request(["GET http://[::1/ HTTP/1.1"]),
        request(["GET / http/1.1"]),
        request(["GET / HTTP/1"]),
        request(["GET / HTTP/1.1", "Host server"]),
        request(["GET / HTTP/1.1", "Host : server"]),
        request(["GET / HTTP/1.1", "Host\t: server"]),
        request(["GET / HTTP/1.1", ": server"]),
        request(["GET / HTTP/1.1", "X: a", " folded"]),
        request(["GET / HTTP/1.1", "X: a", "\tfolded: b"]),
        request(["GET / HTTP/1.1", "X: a\u{01}b"]),
        request(["GET / HTTP/1.1", "X: a\u{7F}"]),
        request(["GET / HTTP/1.1", "Bad Name: b"]),
        "GET / HTTP/1.1\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
        "GET / HTTP/1.1\n\n",
        "GET / HTTP/1.1\nHost: a\n",
    ])
    func malformed(head: String) {
        #expect(handshakeStatus { _ = try parseHead(head) } == 400, "\(head.debugDescription)")
    }

    /// RFC 9110 §2.5: a later minor version is served as the highest we speak (1.1); RFC 9112
    /// §2.3 and RFC 9110 §15.6.6: another major version is 505, not a malformed request.
    @Test("HTTP versions", arguments: [
        ("HTTP/1.0", 0), ("HTTP/1.1", 1), ("HTTP/1.2", 1), ("HTTP/1.9", 1),
        ("HTTP/2.0", 505), ("HTTP/0.9", 505), ("HTTP/3.0", 505), ("HTTP/9.9", 505),
    ] as [(String, Int)])
    func versions(version: String, expected: Int) throws {
        let line = request(["GET / \(version)", "Host: a"])
        if expected >= 100 {
            #expect(handshakeStatus { _ = try parseHead(line) } == expected)
        } else {
            #expect(try #require(try parseHead(line)).0.minorVersion == expected)
        }
    }

    /// RFC 9112 §2.2: empty lines before the request line are ignored; until a request line
    /// comes the head is simply incomplete.
    @Test func leadingEmptyLinesAreIgnored() throws {
        let text = "\r\n\r\n" + request(["GET /x HTTP/1.1", "Host: a"])
        let (head, length) = try #require(try parseHead(text))
        #expect(length == text.utf8.count)
        #expect(head.target == Array("/x".utf8))
        #expect(try parseHead("\r\n\r\n") == nil)
        #expect(handshakeStatus { _ = try parseHead("\r\n" + String(repeating: "\r\n", count: 20), maxBytes: 32) } == 431)
    }

    /// RFC 9112 §3.2.2: a server MUST accept the absolute form; its authority replaces Host.
    @Test("absolute-form targets", arguments: [
        ("http://Example.com:8080/a?b=1", "/a?b=1", "Example.com:8080"),
        ("HTTPS://h", "/", "h"),
        ("http://h?q", "/?q", "h"),
        ("http://[::1]:80/ws", "/ws", "[::1]:80"),
    ] as [(String, String, String)])
    func absoluteForm(target: String, origin: String, host: String) throws {
        let (head, _) = try #require(try parseHead(request(["GET \(target) HTTP/1.1", "Host: ignored"])))
        #expect(text(head.target) == origin)
        #expect(head.authority.map(text) == host)
        #expect(throws: Never.self) { try head.checkHost() }
        // Host is still required once (§3.2), whatever the form of the target.
        let (bare, _) = try #require(try parseHead(request(["GET \(target) HTTP/1.1"])))
        #expect(handshakeStatus { try bare.checkHost() } == 400)
        let (twice, _) = try #require(try parseHead(request(["GET \(target) HTTP/1.1", "Host: a", "Host: b"])))
        #expect(handshakeStatus { try twice.checkHost() } == 400)
    }

    /// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host and for any request with two.
    @Test("Host is required once in HTTP/1.1, at most once in 1.0", arguments: [
        (["GET / HTTP/1.1", "Host: a"], true),
        (["GET / HTTP/1.1"], false),
        (["GET / HTTP/1.1", "Host: a", "Host: a"], false),
        (["GET / HTTP/1.0"], true),
        (["GET / HTTP/1.0", "Host: a"], true),
        (["GET / HTTP/1.0", "Host: a", "HOST: b"], false),
        (["GET / HTTP/1.1", "Host: "], true),
        (["GET / HTTP/1.1", "Host: [::1]:8080"], true),
        (["GET / HTTP/1.1", "Host: a b/c"], false),
        (["GET / HTTP/1.1", "Host: user@box"], false),
        (["GET / HTTP/1.1", "Host: box/x"], false),
        // RFC 3986 §3.2.2–3.2.3: the port is digits, an IP literal is bracketed, a percent
        // sign starts two hex digits.
        (["GET / HTTP/1.1", "Host: 127.0.0.1:abc"], false),
        (["GET / HTTP/1.1", "Host: a:1:2"], false),
        (["GET / HTTP/1.1", "Host: [::1"], false),
        (["GET / HTTP/1.1", "Host: x]y"], false),
        (["GET / HTTP/1.1", "Host: [::1]x"], false),
        (["GET / HTTP/1.1", "Host: [::1]:8x"], false),
        (["GET / HTTP/1.1", "Host: [1]"], false),
        (["GET / HTTP/1.1", "Host: [g::1]"], false),
        (["GET / HTTP/1.1", "Host: [v1.]"], false),
        (["GET / HTTP/1.1", "Host: h%zzost"], false),
        (["GET / HTTP/1.1", "Host: h%4"], false),
        (["GET / HTTP/1.1", "Host: h%41st:80"], true),
        (["GET / HTTP/1.1", "Host: box:"], true),
        (["GET / HTTP/1.1", "Host: :8080"], true),
        (["GET / HTTP/1.1", "Host: [::ffff:10.0.0.1]:80"], true),
        (["GET / HTTP/1.1", "Host: [v7.fe:a]"], true),
        (["GET / HTTP/1.1", "Host: 10.0.0.1:65535"], true),
    ] as [([String], Bool)])
    func hostRule(lines: [String], valid: Bool) throws {
        let (head, _) = try #require(try parseHead(request(lines)))
        #expect(handshakeStatus { try head.checkHost() } == (valid ? nil : 400))
    }

    @Test("keep-alive", arguments: [
        (["GET / HTTP/1.1"], true),
        (["GET / HTTP/1.1", "Connection: close"], false),
        (["GET / HTTP/1.1", "Connection: Keep-Alive, Close"], false),
        (["GET / HTTP/1.1", "Connection: keep-alive"], true),
        (["GET / HTTP/1.0"], false),
        (["GET / HTTP/1.0", "Connection: keep-alive"], true),
        (["GET / HTTP/1.0", "Connection: Keep-Alive"], true),
        (["GET / HTTP/1.0", "Connection: close"], false),
    ] as [([String], Bool)])
    func keepAlive(lines: [String], expected: Bool) throws {
        let (head, _) = try #require(try parseHead(request(lines)))
        #expect(head.keepAlive == expected)
        #expect(head.minorVersion == (lines[0].hasSuffix("1.1") ? 1 : 0))
    }

    @Test("path strips the query", arguments: [
        ("/", "/"), ("/chat", "/chat"), ("/chat?x=1", "/chat"), ("/a?b?c", "/a"), ("/?", "/"), ("/client.html?v=2#f", "/client.html"),
    ] as [(String, String)])
    func path(target: String, path: String) throws {
        let (head, _) = try #require(try parseHead(request(["GET \(target) HTTP/1.1"])))
        #expect(text(Array(head.path)) == path)
        #expect(text(head.target) == target)
    }

    /// RFC 9112 §3.2.4: the asterisk form, for OPTIONS only (the others are in `malformed`).
    @Test func asteriskFormForOptions() throws {
        let (head, _) = try #require(try parseHead(request(["OPTIONS * HTTP/1.1", "Host: a"])))
        #expect(head.target == Array("*".utf8))
        #expect(throws: Never.self) { _ = try head.checkMessage() }
    }

    @Test("methods are any token, kept as sent", arguments: ["GET", "HEAD", "POST", "OPTIONS", "get", "M-SEARCH"])
    func methods(method: String) throws {
        let (head, _) = try #require(try parseHead(request(["\(method) / HTTP/1.1"])))
        #expect(text(head.method) == method)
    }
}

/// An upgrade request from the RFC sample with `change` applied to its lines.
func upgradeHead(_ change: (inout [String]) -> Void = { _ in }) throws -> HTTPRequestHead {
    var lines = rfcUpgradeLines
    change(&lines)
    return try #require(try parseHead(request(lines))).0
}

func remove(_ name: String) -> (inout [String]) -> Void {
    { lines in lines.removeAll { $0.lowercased().hasPrefix(name.lowercased() + ":") } }
}

func replace(_ name: String, with value: String) -> (inout [String]) -> Void {
    { lines in
        lines.removeAll { $0.lowercased().hasPrefix(name.lowercased() + ":") }
        lines.append("\(name): \(value)")
    }
}

func add(_ line: String) -> (inout [String]) -> Void { { $0.append(line) } }

@Suite("Handshake.validate")
struct HandshakeValidateTests {
    @Test("the RFC sample request is accepted with the §1.3 accept value")
    func good() throws {
        let head = try upgradeHead()
        #expect(text(try Handshake.validate(head)) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("accepted variations", arguments: [
        "Connection: keep-alive, Upgrade",
        "Connection: upgrade",
        "Upgrade: WebSocket",
        "Upgrade: websocket, h2c",
        "Sec-WebSocket-Version:  13 ",
        "Sec-WebSocket-Key:   dGhlIHNhbXBsZSBub25jZQ==  ",
        "Content-Length: 0",
        "Content-Length: 0, 0",
    ])
    func acceptedVariations(line: String) throws {
        let name = String(line[..<line.firstIndex(of: ":")!])
        let value = String(line[line.index(after: line.firstIndex(of: ":")!)...])
        let head = try upgradeHead(replace(name, with: value))
        #expect(text(try Handshake.validate(head)) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("Connection split over two lines")
    func connectionOnTwoLines() throws {
        let head = try upgradeHead { lines in
            remove("connection")(&lines)
            lines.append("Connection: keep-alive")
            lines.append("Connection: Upgrade")
        }
        #expect(text(try Handshake.validate(head)) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("refused requests and their statuses", arguments: [
        ("POST", 405),
        ("HTTP/1.0", 400),
        ("no Host", 400),
        ("two Hosts", 400),
        ("no Upgrade", 426),
        ("Upgrade: h2c", 400),
        ("no Connection", 400),
        ("Connection: keep-alive", 400),
        ("Connection: upgrader", 400),
        ("version 8", 426),
        ("no version", 426),
        ("two versions", 400),
        ("no key", 400),
        ("key of 15 bytes", 400),
        ("key of 17 bytes", 400),
        ("key not base64", 400),
        ("key without padding", 400),
        ("two keys", 400),
        ("empty Host", 400),
        ("Content-Length: 5", 400),
        ("Content-Length: x", 400),
        ("chunked", 400),
    ] as [(String, Int)])
    func refused(what: String, status: Int) throws {
        let change: (inout [String]) -> Void
        switch what {
        case "POST": change = { $0[0] = "POST /chat HTTP/1.1" }
        case "HTTP/1.0": change = { $0[0] = "GET /chat HTTP/1.0" }
        case "no Host": change = remove("host")
        case "two Hosts": change = add("Host: other.example.com")
        case "no Upgrade": change = remove("upgrade")
        case "Upgrade: h2c": change = replace("Upgrade", with: "h2c")
        case "no Connection": change = remove("connection")
        case "Connection: keep-alive": change = replace("Connection", with: "keep-alive")
        case "Connection: upgrader": change = replace("Connection", with: "upgrader")
        case "version 8": change = replace("Sec-WebSocket-Version", with: "8")
        case "no version": change = remove("sec-websocket-version")
        case "two versions": change = add("Sec-WebSocket-Version: 13")
        case "no key": change = remove("sec-websocket-key")
        case "key of 15 bytes": change = replace("Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAA")
        case "key of 17 bytes": change = replace("Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAAAAA=")
        case "key not base64": change = replace("Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ!!")
        case "key without padding": change = replace("Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ")
        case "two keys": change = add("Sec-WebSocket-Key: AAECAwQFBgcICQoLDA0ODw==")
        case "empty Host": change = replace("Host", with: "")
        case "Content-Length: 5": change = add("Content-Length: 5")
        case "Content-Length: x": change = add("Content-Length: x")
        case "chunked": change = add("Transfer-Encoding: chunked")
        default: Issue.record("unknown case \(what)"); return
        }
        let head = try upgradeHead(change)
        #expect(handshakeStatus { _ = try Handshake.validate(head) } == status)
    }

    @Test("the error cases themselves")
    func errorCases() throws {
        #expect(throws: HTTPError.methodNotAllowed(allow: "GET")) { try Handshake.validate(try upgradeHead { $0[0] = "PUT /chat HTTP/1.1" }) }
        #expect(throws: HTTPError.upgradeRequired) { try Handshake.validate(try upgradeHead(remove("upgrade"))) }
        #expect(throws: HTTPError.unsupportedVersion) { try Handshake.validate(try upgradeHead(replace("Sec-WebSocket-Version", with: "8"))) }
        #expect(throws: HTTPError.unsupportedVersion) { try Handshake.validate(try upgradeHead(remove("sec-websocket-version"))) }
        // Each error's status, fields and body: HTTPErrorTests, on the response bytes.
    }
}
