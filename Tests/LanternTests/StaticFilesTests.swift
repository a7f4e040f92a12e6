import Testing
@testable import Lantern

/// The static-file pieces that only the binary's HTTP tests reached before.
@Suite("RequestPath, AcceptEncoding, AssetStore")
struct StaticFilesTests {
    @Test("paths that decode", arguments: [
        ("/", "/"), ("/client", "/client"), ("/a%20b", "/a b"), ("/%41%62", "/Ab"), ("/favicon.ico", "/favicon.ico"),
        ("/a..b", "/a..b"), ("/.well-known", "/.well-known"), ("//x", "//x"),
    ])
    func decodes(raw: String, decoded: String) {
        #expect(RequestPath.decode(Array(raw.utf8)) == Array(decoded.utf8))
    }

    @Test("paths that could mean something else are refused", arguments: [
        "", "client", "/.", "/..", "/a/../b", "/a/./b", "/%2e%2e/x", "/%2E", "/a%2fb", "/a%2Fb", "/a\\b", "/a%5cb",
        "/a%00b", "/a%0ab", "/a%7f", "/%", "/%4", "/%zz", "/a\u{01}b",
    ])
    func refused(raw: String) {
        #expect(RequestPath.decode(Array(raw.utf8)) == nil, "\(raw.debugDescription)")
    }

    @Test("Accept-Encoding: is gzip acceptable?", arguments: [
        ([], false), (["gzip"], true), (["GZip"], true), (["x-gzip"], true), (["deflate, gzip;q=0.5"], true),
        (["gzip;q=0"], false), (["gzip;q=0.000"], false), (["*"], true), (["*;q=0"], false), (["gzip;q=0", "*"], false),
        (["identity"], false), (["br", "gzip"], true), (["gzip;q=1.5"], false), (["gzip;q=abc"], false),
        (["gzip;q=0.0001"], false), (["gzip ; q=0.2"], true), (["*;q=0.1, gzip;q=0"], false),
    ] as [([String], Bool)])
    func acceptEncoding(values: [String], gzip: Bool) {
        #expect(AcceptEncoding.allowsGzip(values.map { Array($0.utf8) }) == gzip)
    }

    @Test("q-values in thousandths", arguments: [
        ("0", 0), ("1", 1000), ("0.5", 500), ("0.125", 125), ("1.000", 1000), ("1.", 1000), ("1.001", nil), ("2", nil),
        ("0.1234", nil), ("", nil), (".5", nil), ("0,5", nil),
    ] as [(String, Int?)])
    func qValues(text: String, value: Int?) {
        #expect(AcceptEncoding.qValue(Array(text.utf8)) == value)
    }

    @Test("the store finds every path by bytes, decodes base64 once, and nothing else")
    func store() {
        let store = AssetStore([
            Asset(path: "/z.txt", contentType: "text/plain", etag: "\"z\"", body: "zed", isBase64: false),
            Asset(path: "/a.bin", contentType: "application/octet-stream", etag: "\"a\"", body: "AAH/", isBase64: true,
                  gzipETag: "\"a-gz\"", gzipBody: "H4sI"),
            Asset(path: "/m.html", contentType: "text/html", etag: "\"m\"", body: "<p>", isBase64: false),
        ])
        #expect(store.entries.map { String(decoding: $0.path.utf8Bytes, as: UTF8.self) } == ["/a.bin", "/m.html", "/z.txt"])
        for path in ["/a.bin", "/m.html", "/z.txt"] {
            #expect(store.entry(for: Array(path.utf8)).map { String(decoding: $0.path.utf8Bytes, as: UTF8.self) } == path)
        }
        for missing in ["/", "/a", "/a.bin/", "/A.bin", "/zz.txt", ""] { #expect(store.entry(for: Array(missing.utf8)) == nil, "\(missing)") }
        let binary = store.entry(for: Array("/a.bin".utf8))
        #expect(binary?.identity.bytes.withBytes { Array($0) } == [0x00, 0x01, 0xFF])
        #expect(binary?.gzip?.bytes.withBytes { Array($0) } == [0x1F, 0x8B, 0x08])
        #expect(store.entry(for: Array("/z.txt".utf8))?.identity.bytes.withBytes { Array($0) } == Array("zed".utf8))
        #expect(store.entry(for: Array("/z.txt".utf8))?.gzip == nil)
        // The compiled table serves the page.
        #expect(AssetStore.compiled.entry(for: Array("/client.html".utf8)) != nil)
    }
}
