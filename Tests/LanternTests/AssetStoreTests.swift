import CZlib
import Foundation
import Testing
@testable import Lantern

/// `AssetStore`: the compiled-in table, decoded once and searched by exact path.
@Suite("AssetStore")
struct AssetStoreTests {
    /// Given out of order, with a base64 body and a gzip variant on some of them.
    static let assets: [Asset] = [
        Asset(path: "/z.txt", contentType: "text/plain; charset=utf-8", etag: "\"z\"", body: "last", isBase64: false),
        Asset(path: "/b.bin", contentType: "application/octet-stream", etag: "\"b\"", body: "AAH/gA==", isBase64: true),
        Asset(path: "/a.html", contentType: "text/html; charset=utf-8", etag: "\"a\"", body: "<p>hi</p>", isBase64: false,
              gzipETag: "\"a-gz\"", gzipBody: "H4sI"),
        Asset(path: "/a", contentType: "text/plain; charset=utf-8", etag: "\"a0\"", body: "", isBase64: false),
        // A gzip tag without a body (or the reverse) is no variant.
        Asset(path: "/c.css", contentType: "text/css; charset=utf-8", etag: "\"c\"", body: "p{}", isBase64: false, gzipETag: "\"c-gz\""),
        Asset(path: "/C.css", contentType: "text/css; charset=utf-8", etag: "\"C\"", body: "P{}", isBase64: false, gzipBody: "H4sI"),
    ]

    static func bytes(_ representation: AssetRepresentation) -> [UInt8] {
        representation.bytes.withBytes { Array($0) }
    }

    static func string(_ text: StaticString) -> String { text.withUTF8Buffer { String(decoding: $0, as: UTF8.self) } }

    @Test func entriesAreSortedByteWise() {
        let store = AssetStore(Self.assets)
        #expect(store.entries.map { Self.string($0.path) } == ["/C.css", "/a", "/a.html", "/b.bin", "/c.css", "/z.txt"])
    }

    @Test func everyPathIsFoundAndNothingElse() {
        let store = AssetStore(Self.assets)
        for asset in Self.assets {
            let path = Array(Self.string(asset.path).utf8)
            #expect(store.entry(for: path).map { Self.string($0.path) } == Self.string(asset.path))
        }
        for miss in ["", "/", "/A", "/a.htm", "/a.html/", "/a.htmlx", "/b", "/c.CSS", "a.html", "/zz", "/0"] {
            #expect(store.entry(for: Array(miss.utf8)) == nil, "\(miss) found")
        }
        #expect(AssetStore([]).entry(for: Array("/a".utf8)) == nil)
    }

    @Test func bodiesAreDecodedOnceAndVariantsNeedBothHalves() throws {
        let store = AssetStore(Self.assets)
        let bin = try #require(store.entry(for: Array("/b.bin".utf8)))
        #expect(Self.bytes(bin.identity) == [0x00, 0x01, 0xFF, 0x80])
        #expect(bin.identity.bytes.count == 4)
        let html = try #require(store.entry(for: Array("/a.html".utf8)))
        #expect(Self.bytes(html.identity) == Array("<p>hi</p>".utf8))
        #expect(Self.string(html.identity.etag) == "\"a\"")
        #expect(html.gzip.map { Self.bytes($0) } == [0x1F, 0x8B, 0x08])
        #expect(html.gzip.map { Self.string($0.etag) } == "\"a-gz\"")
        #expect(store.entry(for: Array("/a".utf8))?.identity.bytes.count == 0)
        #expect(store.entry(for: Array("/c.css".utf8))?.gzip == nil)
        #expect(store.entry(for: Array("/C.css".utf8))?.gzip == nil)
    }

    @Test func undecodableBase64BecomesEmpty() {
        let store = AssetStore([Asset(path: "/x", contentType: "x/y", etag: "\"x\"", body: "not base64!", isBase64: true)])
        #expect(store.entries.first?.identity.bytes.count == 0)
    }

    /// The table compiled from Web/: every file there, with exactly its bytes and type, and a
    /// gzip variant only when it is a smaller gzip of the same bytes under another tag.
    @Test func compiledTableIsWebFolder() throws {
        let web = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Web").standardizedFileURL
        let names = try FileManager.default.contentsOfDirectory(atPath: web.path).filter { !$0.hasPrefix(".") }.sorted()
        #expect(!names.isEmpty && names.contains("client.html"))
        let store = AssetStore.compiled
        #expect(store.entries.map { Self.string($0.path) } == names.map { "/" + $0 }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        let types = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
                     "svg": "image/svg+xml", "ico": "image/x-icon"]
        for name in names {
            let file = try [UInt8](Data(contentsOf: web.appendingPathComponent(name)))
            let entry = try #require(store.entry(for: Array("/\(name)".utf8)), "\(name) not in the table")
            #expect(Self.bytes(entry.identity) == file, "\(name): served bytes differ from Web/")
            let ext = String(name.split(separator: ".").last ?? "")
            if let type = types[ext] { #expect(Self.string(entry.contentType) == type, "\(name)") }
            if let gzip = entry.gzip {
                #expect(Self.string(gzip.etag) != Self.string(entry.identity.etag), "\(name): one tag for two representations")
                #expect(gzip.bytes.count < file.count, "\(name): gzip variant is not smaller")
                #expect(Self.gunzip(Self.bytes(gzip)) == file, "\(name): gzip variant is not the file")
            }
        }
    }

    /// zlib's gzip decoder (RFC 1952), independent of the server's raw-deflate path.
    static func gunzip(_ input: [UInt8]) -> [UInt8]? {
        var stream = z_stream()
        guard lantern_inflateInit2(&stream, 15 + 16) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: 1 << 22)
        var input = input
        let status = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { return nil }
        return Array(output[0..<Int(stream.total_out)])
    }
}
