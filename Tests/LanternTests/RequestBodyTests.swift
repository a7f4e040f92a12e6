import Testing
@testable import Lantern

@Suite("RequestBody")
struct RequestBodyTests {
    /// RFC 9112 §6.1–6.3 and RFC 9110 §8.6: (header lines, version, framing; nil = 400).
    static let framings: [([String], String, RequestBody?)] = [
        ([], "1.1", RequestBody.none),
        (["Content-Length: 0"], "1.1", RequestBody.none),
        (["Content-Length: 000"], "1.1", RequestBody.none),
        (["Content-Length: 5"], "1.1", .length(5)),
        (["Content-Length: 5"], "1.0", .length(5)),
        (["Content-Length: 5, 5"], "1.1", .length(5)),
        (["Content-Length: 5", "Content-Length: 5"], "1.1", .length(5)),
        (["Content-Length: 123456789012345678"], "1.1", .length(123_456_789_012_345_678)),
        (["Content-Length: 5, 6"], "1.1", nil),
        (["Content-Length: 5", "Content-Length: 6"], "1.1", nil),
        (["Content-Length: 0", "Content-Length: 1"], "1.1", nil),
        (["Content-Length: abc"], "1.1", nil),
        (["Content-Length: "], "1.1", nil),
        (["Content-Length: 5,"], "1.1", nil),
        (["Content-Length: -1"], "1.1", nil),
        (["Content-Length: +5"], "1.1", nil),
        (["Content-Length: 5 5"], "1.1", nil),
        (["Content-Length: 0x10"], "1.1", nil),
        (["Content-Length: 1234567890123456789"], "1.1", nil),
        (["Transfer-Encoding: chunked"], "1.1", .transferCoded),
        (["Transfer-Encoding: gzip, chunked", "Content-Length: 5"], "1.1", .transferCoded),
        (["Transfer-Encoding: chunked"], "1.0", nil),
        (["Transfer-Encoding: chunked", "Content-Length: 5"], "1.0", nil),
    ]

    @Test(arguments: framings)
    func framing(lines: [String], version: String, expected: RequestBody?) throws {
        let (head, _) = try #require(try parseHead(request(["POST / HTTP/\(version)", "Host: a"] + lines)))
        if let expected {
            #expect(try head.body() == expected)
        } else {
            #expect(handshakeStatus { _ = try head.body() } == 400)
        }
    }

    /// RFC 9110 §9.1: a method nobody defined is 501; methods are case-sensitive.
    @Test(arguments: [
        ("GET", true), ("HEAD", true), ("POST", true), ("PUT", true), ("DELETE", true), ("CONNECT", true),
        ("OPTIONS", true), ("TRACE", true), ("PATCH", true),
        ("get", false), ("Get", false), ("M-SEARCH", false), ("FOO", false), ("GETS", false), ("GE", false),
    ] as [(String, Bool)])
    func knownMethods(method: String, known: Bool) throws {
        let (head, _) = try #require(try parseHead(request(["\(method) / HTTP/1.1", "Host: a"])))
        #expect(head.hasKnownMethod == known)
        #expect(handshakeStatus { _ = try head.checkMessage() } == (known ? nil : 501))
    }

    @Test("checkMessage: framing, then Host, then the method")
    func checkOrder() throws {
        let head = { (lines: [String]) in try #require(try parseHead(request(lines))).0 }
        #expect(try head(["POST / HTTP/1.1", "Host: a", "Content-Length: 2"]).checkMessage() == .length(2))
        #expect(handshakeStatus { _ = try head(["FOO / HTTP/1.1", "Content-Length: x"]).checkMessage() } == 400)
        #expect(throws: HTTPError.badRequest("missing Host")) { _ = try head(["FOO / HTTP/1.1"]).checkMessage() }
        #expect(throws: HTTPError.notImplemented) { _ = try head(["FOO / HTTP/1.1", "Host: a"]).checkMessage() }
    }
}
