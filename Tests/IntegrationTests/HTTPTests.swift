import Foundation
import Glibc
import Testing

/// The static responder (spec item 7).
@Suite(.timeLimit(.minutes(1)))
struct HTTPTests {
    /// Web/client.html of this package, found from this source file.
    static let clientHTMLURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Web/client.html")

    private func get(_ client: RawClient, _ target: String, method: String = "GET", headers: [String] = []) throws -> HTTPResponse {
        try client.sendRequest("\(method) \(target) HTTP/1.1", headers: ["Host: 127.0.0.1"] + headers)
        return try client.readHTTPResponse(bodyless: method == "HEAD")
    }

    @Test func clientPageIsServedByteForByte() throws {
        let expected = try [UInt8](Data(contentsOf: Self.clientHTMLURL))
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let response = try get(client, "/client")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/html; charset=utf-8")
        #expect(response.header("Content-Length") == String(expected.count))
        let etag = response.header("ETag")
        #expect(etag?.isEmpty == false, "ETag missing")
        #expect(etag?.hasPrefix("\"") == true || etag?.hasPrefix("W/\"") == true, "ETag \(etag ?? "none") is not a quoted entity tag")
        Expect.bytes(response.body, equal: expected, "body vs Web/client.html")
    }

    @Test func headHasHeadersAndNoBody() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let full = try get(client, "/client")
        let head = try get(client, "/client", method: "HEAD")
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == "text/html; charset=utf-8")
        #expect(head.header("Content-Length") == String(full.body.count), "HEAD Content-Length \(head.header("Content-Length") ?? "missing")")
        #expect(head.header("ETag") == full.header("ETag"))
        // No body: the very next bytes on the connection are the next response.
        let next = try get(client, "/nope")
        #expect(next.status == 404, "after HEAD, next response \(next.statusLine.debugDescription)")
    }

    @Test func matchingIfNoneMatchIs304() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let first = try get(client, "/client")
        let etag = try #require(first.header("ETag"))
        let cached = try get(client, "/client", headers: ["If-None-Match: \(etag)"])
        #expect(cached.status == 304)
        #expect(cached.header("ETag") == etag)
        let listed = try get(client, "/client", headers: ["If-None-Match: \"other\", \(etag)"])
        #expect(listed.status == 304, "an ETag inside a list must match too")
        let star = try get(client, "/client", headers: ["If-None-Match: *"])
        #expect(star.status == 304)
        let stale = try get(client, "/client", headers: ["If-None-Match: \"stale\""])
        #expect(stale.status == 200)
        Expect.bytes(stale.body, equal: first.body, "body after a stale If-None-Match")
    }

    @Test func rootRedirectsToClient() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let response = try get(client, "/")
        #expect(response.status == 302)
        #expect(response.header("Location") == "client")
    }

    @Test(arguments: ["/nope", "/client/extra", "/client.htmlx"])
    func unknownPathIs404(path: String) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let response = try get(client, path)
        #expect(response.status == 404)
    }

    @Test(arguments: ["/../etc/passwd", "/%2e%2e/etc/passwd", "/client/../../etc/passwd"])
    func traversalIsRefused(path: String) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let response = try get(client, path)
        #expect(response.status == 404 || response.status == 400, "status \(response.status)")
        #expect(!String(decoding: response.body, as: UTF8.self).contains("root:"))
    }

    @Test(arguments: ["DELETE", "PUT", "POST"])
    func otherMethodIs405WithAllow(method: String) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("\(method) /client HTTP/1.1", headers: ["Host: 127.0.0.1", "Content-Length: 0"])
        let response = try client.readHTTPResponse()
        #expect(response.status == 405)
        let allow = response.header("Allow") ?? ""
        #expect(allow.contains("GET") && allow.contains("HEAD"), "Allow: \(allow)")
    }

    @Test func keepAliveAnswersTwoRequests() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let first = try get(client, "/client")
        let second = try get(client, "/client")
        #expect(first.status == 200 && second.status == 200)
        Expect.bytes(second.body, equal: first.body, "second body")
    }

    @Test func pipelinedRequestsInOneWriteAreAnsweredInOrder() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        // (An error response may end the connection, so the 404 comes last.)
        try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /client HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try client.readHTTPResponse().status == 302)
        #expect(try client.readHTTPResponse().status == 200)
        #expect(try client.readHTTPResponse().status == 404)
    }

    @Test func connectionCloseIsHonoured() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        let response = try get(client, "/client", headers: ["Connection: close"])
        #expect(response.status == 200)
        #expect(response.header("Connection") == "close")  // RFC 9112 §9.6 SHOULD
        Expect.serverClosesTCP(client)
    }

    /// After a refusal the server reads what the client still sends before it closes (so the
    /// response is not lost to a reset), for 1 s in all: a client sending a byte every 200 ms
    /// used to restart a per-read timeout and hold the thread and its connection slot forever.
    @Test func drainAfterARefusalIsBoundedInTotal() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.send("GARBAGE\r\n\r\n")
        #expect(try client.readHTTPResponse().status == 400)
        let refused = Date()
        var closed = false
        while !closed && Date().timeIntervalSince(refused) < 5 {
            // A byte, then up to 200 ms for the reset that answers a byte sent to a closed socket.
            // (The server's FIN came right after the response; POLLHUP/POLLERR mean it closed.)
            guard (try? client.send([0x20])) != nil else { closed = true; break }
            var event = pollfd(fd: client.fd, events: 0, revents: 0)
            closed = poll(&event, 1, 200) > 0
        }
        let held = Date().timeIntervalSince(refused)
        #expect(closed && held < 2.5, "closed: \(closed) after \(held) s")
    }

    @Test func http10ClosesAfterResponse() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("GET /client HTTP/1.0", headers: [])
        let response = try client.readHTTPResponse()
        #expect(response.status == 200)
        #expect(response.header("Connection") == "close")
        Expect.serverClosesTCP(client)
    }

    /// An HTTP/1.0 client that asks to keep the connection is told it is kept (1.0 closes by
    /// default, so without the field it would wait for a close until the keep-alive timeout).
    @Test func http10KeepAliveIsAnnouncedAndKept() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        for _ in 0..<2 {
            try client.sendRequest("GET /healthz HTTP/1.0", headers: ["Connection: keep-alive"])
            let response = try client.readHTTPResponse()
            #expect(response.status == 200 && response.header("Connection") == "keep-alive")
        }
    }

    /// RFC 9112 §3.2: 400 for an HTTP/1.1 request without Host, or any request with two.
    /// RFC 9110 §9.3.2: a response to HEAD has no body, refusals included.
    @Test(arguments: [("/ws", 405), ("/%2e%2e/x", 400)] as [(String, Int)])
    func refusalOfHeadHasNoBody(target: String, status: Int) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("HEAD \(target) HTTP/1.1", headers: ["Host: 127.0.0.1"])
        #expect(try client.readHTTPResponse(bodyless: true).status == status)
        #expect(try client.readUntilEOF(timeout: 5).isEmpty, "bytes after the head of a HEAD response")
    }

    @Test(arguments: [["GET /healthz HTTP/1.1"], ["GET /healthz HTTP/1.1", "Host: a", "Host: b"], ["GET /ws HTTP/1.1"]])
    func hostMissingOrRepeatedIs400(lines: [String]) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest(lines[0], headers: Array(lines.dropFirst()))
        #expect(try client.readHTTPResponse().status == 400)
    }

    /// RFC 9112 §2.2 and §3.2.2: empty lines before a request are ignored, an absolute-form
    /// target is served, and a head with bare line feeds is refused at once (it used to wait
    /// for a CRLFCRLF until the handshake timeout and close without an answer).
    @Test(arguments: [
        ("\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 200),
        ("GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: a\r\n\r\n", 200),
        ("GET http://127.0.0.1/healthz HTTP/1.1\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\r\nHost: a b/c\r\n\r\n", 400),
        ("GET /healthz HTTP/1.1\nHost: a\n\n", 400),
        // RFC 3986 §3.2.3: a port is digits.
        ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:abc\r\n\r\n", 400),
        // RFC 9112 §6.3: an invalid Content-Length is a framing error, whatever the target.
        ("GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
        // RFC 9110 §9.1: a method nobody defined is 501 (405 is for known ones a resource refuses).
        ("FOO /client HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        ("FOO /ws HTTP/1.1\r\nHost: a\r\n\r\n", 501),
        // RFC 9110 §15.6.6: another major version is 505; a later 1.x is served as 1.1.
        ("GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET /healthz HTTP/1.2\r\nHost: a\r\n\r\n", 200),
        // RFC 9112 §3.2.4 / RFC 9110 §9.3.7: OPTIONS for the server as a whole.
        ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 200),
    ] as [(String, Int)])
    func requestFraming(request: String, status: Int) throws {
        let server = try ServerProcess.start(["--handshake-timeout", "30"])
        defer { server.stop() }
        let client = try server.connect()
        try client.send(request)
        #expect(try client.readHTTPResponse(timeout: 5).status == status)
    }
}
