import Foundation
import Testing

/// The compiled-in Web/ files over HTTP: gzip variants, validators per encoding, HEAD, content
/// types, binary assets, path checks and the page's Content-Security-Policy.
@Suite(.timeLimit(.minutes(2)))
struct AssetHTTPTests {
    /// This package's Web/ folder, found from this source file.
    static let webURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Web")

    /// Web/ files with a gzip variant (compressible and big enough to shrink).
    static let compressible = ["/client.html", "/client.css", "/client.js", "/favicon.svg"]

    static func file(_ path: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: webURL.appendingPathComponent(String(path.dropFirst()))))
    }

    private func get(_ client: RawClient, _ target: String, method: String = "GET", headers: [String] = []) throws -> HTTPResponse {
        try client.sendRequest("\(method) \(target) HTTP/1.1", headers: ["Host: 127.0.0.1"] + headers)
        return try client.readHTTPResponse(bodyless: method == "HEAD")
    }

    /// `bytes` decompressed by the system's `gzip -dc` (Foundation on Linux has no gzip).
    private func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-dc"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Written from another thread so a full output pipe can never deadlock us.
        let writer = Thread {
            input.fileHandleForWriting.write(Data(bytes))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ClientError.malformed("gzip -dc exited \(process.terminationStatus)") }
        return [UInt8](data)
    }

    // MARK: gzip and identity

    @Test(arguments: compressible)
    func gzipVariantDecompressesToTheFile(path: String) throws {
        let expected = try Self.file(path)
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let gzipped = try get(client, path, headers: ["Accept-Encoding: gzip, deflate, br"])
        #expect(gzipped.status == 200)
        #expect(gzipped.header("Content-Encoding") == "gzip")
        #expect(gzipped.header("Vary") == "Accept-Encoding")
        #expect(gzipped.header("Content-Length") == String(gzipped.body.count))
        #expect(gzipped.body.starts(with: [0x1F, 0x8B]), "no gzip magic")
        #expect(gzipped.body.count < expected.count, "gzip variant is not smaller")
        #expect(try gunzip(gzipped.body) == expected, "gunzipped body differs from Web\(path)")

        let identity = try get(client, path)
        #expect(identity.status == 200)
        #expect(identity.header("Content-Encoding") == nil)
        #expect(identity.header("Vary") == "Accept-Encoding", "Vary belongs on the identity response too")
        #expect(identity.body == expected)

        let gzipTag = try #require(gzipped.header("ETag")), identityTag = try #require(identity.header("ETag"))
        #expect(gzipTag != identityTag, "one ETag for two encodings")
        #expect(gzipTag.hasPrefix("\"") && identityTag.hasPrefix("\""), "ETags must be strong: \(gzipTag), \(identityTag)")
    }

    /// Accept-Encoding values and whether gzip may be used (RFC 9110 §12.5.3).
    @Test(arguments: [
        ("gzip", true), ("GZIP", true), ("x-gzip", true), ("deflate, gzip;q=0.5", true),
        ("gzip; q=1.0", true), ("br;q=1, gzip;q=0.001", true), ("*", true), ("identity, *;q=0.1", true),
        ("gzip;q=0", false), ("gzip; Q=0.000", false), ("gzip;q=0, *", false), ("*;q=0", false),
        ("identity", false), ("br, deflate", false), ("", false), ("gzip;q=2", false), ("gzip;q=abc", false),
    ])
    func acceptEncodingDecidesTheEncoding(value: String, gzip: Bool) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let response = try get(client, "/client.js", headers: ["Accept-Encoding: \(value)"])
        #expect(response.status == 200)
        #expect(response.header("Content-Encoding") == (gzip ? "gzip" : nil), "Accept-Encoding: \(value)")
        #expect(response.header("Vary") == "Accept-Encoding")
        if !gzip { #expect(response.body == (try Self.file("/client.js"))) }
    }

    // MARK: validators

    @Test func ifNoneMatchIsPerEncoding() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let gzipTag = try #require(try get(client, "/client", headers: ["Accept-Encoding: gzip"]).header("ETag"))
        let identityTag = try #require(try get(client, "/client").header("ETag"))

        let cachedGzip = try get(client, "/client", headers: ["Accept-Encoding: gzip", "If-None-Match: \(gzipTag)"])
        #expect(cachedGzip.status == 304)
        #expect(cachedGzip.header("ETag") == gzipTag)
        #expect(cachedGzip.header("Vary") == "Accept-Encoding")
        #expect(cachedGzip.header("Cache-Control") == "no-cache")
        #expect(cachedGzip.body.isEmpty)

        let cachedIdentity = try get(client, "/client", headers: ["If-None-Match: \(identityTag)"])
        #expect(cachedIdentity.status == 304)
        #expect(cachedIdentity.header("ETag") == identityTag)

        // A validator of the other encoding does not match the representation being chosen.
        let crossed = try get(client, "/client", headers: ["If-None-Match: \(gzipTag)"])
        #expect(crossed.status == 200)
        #expect(crossed.header("Content-Encoding") == nil)
        #expect(crossed.body == (try Self.file("/client.html")))
        let crossedBack = try get(client, "/client", headers: ["Accept-Encoding: gzip", "If-None-Match: \(identityTag)"])
        #expect(crossedBack.status == 200)
        #expect(crossedBack.header("Content-Encoding") == "gzip")
        // Both listed: whichever is chosen matches.
        let both = try get(client, "/client", headers: ["Accept-Encoding: gzip", "If-None-Match: \(identityTag), \(gzipTag)"])
        #expect(both.status == 304)
    }

    // MARK: HEAD

    @Test(arguments: ["/client", "/client.css", "/favicon.ico"], [true, false])
    func headMatchesGetWithoutBody(path: String, gzip: Bool) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let headers = gzip ? ["Accept-Encoding: gzip"] : []
        let full = try get(client, path, headers: headers)
        let head = try get(client, path, method: "HEAD", headers: headers)
        #expect(head.status == 200)
        for name in ["Content-Type", "Content-Length", "Content-Encoding", "ETag", "Vary", "Cache-Control", "Content-Security-Policy"] {
            #expect(head.header(name) == full.header(name), "\(name) differs between HEAD and GET")
        }
        #expect(head.header("Content-Length") == String(full.body.count))
        // No body: the very next bytes on the connection are the next response.
        let next = try get(client, "/client.css", method: "HEAD")
        #expect(next.status == 200, "after HEAD, next response \(next.statusLine.debugDescription)")
        #expect(client.pendingBytes.isEmpty)
    }

    @Test func unknownFileIs404AndKeepsTheConnection() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let missing = try get(client, "/favicon.png")
        #expect(missing.status == 404)
        let missingHead = try get(client, "/nope.js", method: "HEAD")
        #expect(missingHead.status == 404)
        let page = try get(client, "/client")
        #expect(page.status == 200, "a 404 must not cost the page its connection")
    }

    // MARK: paths

    @Test(arguments: [
        "/../etc/passwd", "/%2e%2e/etc/passwd", "/%2E%2E/%2e%2e/etc/passwd", "/client/../../etc/passwd",
        "/..%2fetc%2fpasswd", "/client.html%2f..%2f..%2fetc%2fpasswd", "/.%2e/Package.swift", "/../Package.swift",
        "/%2e%2e%2f%2e%2e%2fPackage.swift", "/./client.html", "/client.html/.", "/%2e/client.html",
        "/..\\..\\etc\\passwd", "/%5c..%5cetc%5cpasswd", "/client.html%00", "/%00", "/%zz", "/%2", "/client.html%",
        "//etc/passwd", "/Web/client.html", "/Sources/Lantern/Server/Asset.swift", "/%2fetc%2fpasswd",
    ])
    func traversalNeverServesAnything(path: String) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let response = try get(client, path)
        #expect(response.status == 400 || response.status == 404, "\(path): status \(response.status)")
        let body = String(decoding: response.body, as: UTF8.self)
        #expect(!body.contains("root:") && !body.contains("import") && !body.contains("<html"), "\(path): body \(body.prefix(80).debugDescription)")
        #expect(response.body.count < 64)
        Expect.serverStillEchoes(server, skipGreeting: true)
    }

    @Test func rawNULInTheTargetIs400() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        try client.send(Array("GET /client.html".utf8) + [0] + Array(" HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(try client.readHTTPResponse().status == 400)
    }

    @Test func percentEncodedNamesAreDecoded() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let response = try get(client, "/client%2Ehtml?v=1")
        #expect(response.status == 200)
        #expect(response.body == (try Self.file("/client.html")))
    }

    // MARK: types, binary, every file

    @Test(arguments: [
        ("/client", "text/html; charset=utf-8"), ("/client.html", "text/html; charset=utf-8"),
        ("/client.css", "text/css; charset=utf-8"), ("/client.js", "text/javascript; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"), ("/favicon.ico", "image/x-icon"),
    ])
    func contentTypes(path: String, type: String) throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let response = try get(client, path, headers: ["Accept-Encoding: gzip"])
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == type)
        #expect(response.header("X-Content-Type-Options") == "nosniff")
        #expect(response.header("Cache-Control") == "no-cache")
    }

    @Test func binaryAssetRoundTrips() throws {
        let expected = try Self.file("/favicon.ico")
        #expect(String(validating: expected, as: UTF8.self) == nil, "the test needs a non-UTF-8 asset")
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        for headers in [[], ["Accept-Encoding: gzip"]] {
            let response = try get(client, "/favicon.ico", headers: headers)
            #expect(response.status == 200)
            // Already-compressed PNG data: gzip would not shrink it, so there is no variant.
            #expect(response.header("Content-Encoding") == nil)
            #expect(response.header("Vary") == nil)
            #expect(response.body == expected, "favicon.ico bytes differ (\(response.body.count) vs \(expected.count))")
        }
    }

    @Test func everyWebFileIsServedAtItsPath() throws {
        let root = Self.webURL.standardizedFileURL.path
        let enumerator = try #require(FileManager.default.enumerator(at: Self.webURL, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]))
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        var served = 0
        for case let url as URL in enumerator where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
            let path = String(url.standardizedFileURL.path.dropFirst(root.count))
            let response = try get(client, path)
            #expect(response.status == 200, "\(path)")
            #expect(response.body == (try [UInt8](Data(contentsOf: url))), "\(path)")
            served += 1
        }
        #expect(served >= 5)
    }

    // MARK: the page

    @Test func pageHasAStrictCSPItSatisfies() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try RawClient(port: server.port)
        let page = try get(client, "/client")
        let csp = try #require(page.header("Content-Security-Policy"))
        for directive in ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
            #expect(csp.contains(directive), "CSP lacks \(directive): \(csp)")
        }
        #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"))
        #expect(try get(client, "/client.js").header("Content-Security-Policy") == nil, "CSP is for documents")
        // Nothing inline for the policy to block: no <style>, no style="", no on*="", no inline <script>.
        let html = String(decoding: page.body, as: UTF8.self)
        #expect(!html.contains("<style"))
        #expect(html.range(of: #"\sstyle\s*="#, options: .regularExpression) == nil)
        #expect(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil)
        #expect(html.range(of: #"<script(?![^>]*\ssrc=)"#, options: .regularExpression) == nil)
        #expect(!html.contains("javascript:"))
        // The ids other tools rely on.
        for id in ["message", "send", "messages", "status"] {
            #expect(html.contains("id=\"\(id)\""), "id \(id) missing")
        }
    }

    @Test func pageWeighsAtMost32KB() throws {
        let total = try ["/client.html", "/client.css", "/client.js"].map { try Self.file($0).count }.reduce(0, +)
        #expect(total <= 32 * 1024, "page is \(total) bytes")
    }
}
