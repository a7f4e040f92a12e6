import Testing
@testable import Lantern

/// `RequestPath.decode`: the request-target as the asset table spells it, or nil when it is
/// malformed or could mean something else (RFC 3986 §2.1 escapes, §3.3 dot-segments).
@Suite("RequestPath")
struct RequestPathTests {
    @Test("decoded", arguments: [
        ("/", "/"), ("/client.html", "/client.html"), ("/a%20b", "/a b"), ("/%7Euser", "/~user"), ("/%7euser", "/~user"),
        ("/%41%62c", "/Abc"), ("/%25", "/%"), ("/%2525", "/%25"), ("//", "//"), ("/a//b/", "/a//b/"),
        ("/...", "/..."), ("/.hidden", "/.hidden"), ("/a..b", "/a..b"), ("/..a", "/..a"), ("/é", "/é"), ("/%C3%A9", "/é"),
        ("/a?b", "/a?b"),
    ] as [(String, String)])
    func decoded(raw: String, expected: String) {
        #expect(RequestPath.decode(Array(raw.utf8)) == Array(expected.utf8))
    }

    @Test("refused", arguments: [
        // Not a path: empty, relative, or made absolute only by an escape.
        "", "client", "%2Fclient", "%41",
        // Bad escapes: truncated, not hex.
        "/%", "/%4", "/a%", "/%zz", "/%G0", "/%0g", "/% 41",
        // Encoded slash or backslash, literal backslash.
        "/%2F", "/%2f", "/a%2Fb", "/%5C", "/%5c", "/a\\b",
        // Control bytes, literal or encoded, NUL and DEL included.
        "/%00", "/a\u{0}b", "/a%0a", "/a\nb", "/a\tb", "/%1F", "/\u{7F}", "/%7F",
        // Dot segments anywhere, literal or encoded.
        "/.", "/..", "/./", "/../", "/a/.", "/a/..", "/a/./b", "/a/../b", "/%2e", "/%2E%2E", "/.%2e/x", "/a/%2e%2e/b",
    ])
    func refused(raw: String) {
        #expect(RequestPath.decode(Array(raw.utf8)) == nil)
    }

    /// An escape is decoded once: `%252F` is the three bytes `%2F`, not a slash.
    @Test func escapesAreNotDecodedTwice() {
        #expect(RequestPath.decode(Array("/%252F".utf8)) == Array("/%2F".utf8))
        #expect(RequestPath.decode(Array("/%252e%252e".utf8)) == Array("/%2e%2e".utf8))
    }

    /// Works on any collection of bytes, e.g. a slice of the request buffer.
    @Test func decodesASlice() {
        let line = Array("GET /a%20b HTTP/1.1".utf8)
        #expect(RequestPath.decode(line[4..<10]) == Array("/a b".utf8))
    }
}
