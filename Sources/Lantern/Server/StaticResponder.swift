/// Serves the compiled-in files of Web/. Knows nothing of WebSockets.
struct StaticResponder: Sendable {
    let assets: [Asset]

    init(assets: [Asset] = CompiledAssets.all) { self.assets = assets }

    /// The response to a plain HTTP request, and whether the connection may stay open after it.
    func respond(to head: HTTPRequestHead) -> (bytes: [UInt8], keepOpen: Bool) {
        let isHead = head.method == Array("HEAD".utf8)
        let isGet = head.method == Array("GET".utf8)
        let path = head.path
        if path.elementsEqual("/".utf8) {
            guard isGet || isHead else { return methodNotAllowed() }
            var r = HTTPResponse(status: 302)
            r.header("Location", "/client")
            r.header("Content-Length", "0")
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        guard let asset = lookup(path) else { return (HTTPResponse.plain(status: 404, message: "not found"), false) }
        guard isGet || isHead else { return methodNotAllowed() }

        let etag = asset.etag.utf8Bytes
        if matches(head.values("if-none-match"), etag: etag) {
            // RFC 9110 §15.4.5: 304 carries the validator, no body.
            var r = HTTPResponse(status: 304)
            r.header("ETag", bytes: etag)
            r.header("Cache-Control", "no-cache")
            r.finish()
            return (r.bytes, head.keepAlive)
        }
        let body = AssetBody(asset)
        var r = HTTPResponse(status: 200)
        r.header("Content-Type", asset.contentType)
        r.header("Content-Length", String(body.count))
        r.header("ETag", bytes: etag)
        r.header("Cache-Control", "no-cache")
        r.header("X-Content-Type-Options", "nosniff")
        body.withBytes { r.finish(body: isHead ? nil : $0) }
        return (r.bytes, head.keepAlive)
    }

    /// `/client` is the page's public address; every file is also served at its own path.
    private func lookup(_ path: ArraySlice<UInt8>) -> Asset? {
        let wanted: ArraySlice<UInt8> = path.elementsEqual("/client".utf8) ? Array("/client.html".utf8)[...] : path
        return assets.first { $0.path.withUTF8Buffer { $0.elementsEqual(wanted) } }
    }

    /// If-None-Match uses weak comparison (RFC 9110 §13.1.2): `W/` prefixes are ignored; `*` matches.
    private func matches(_ values: [[UInt8]], etag: [UInt8]) -> Bool {
        for value in values {
            for item in value.split(separator: UInt8(ascii: ",")) {
                var tag = ASCII.trimmed(item)
                if tag.elementsEqual("*".utf8) { return true }
                if tag.starts(with: "W/".utf8) { tag = tag.dropFirst(2) }
                if tag.elementsEqual(etag) { return true }
            }
        }
        return false
    }

    private func methodNotAllowed() -> (bytes: [UInt8], keepOpen: Bool) {
        (HTTPResponse.plain(status: 405, message: "method not allowed") { $0.header("Allow", "GET, HEAD") }, false)
    }
}

/// An asset's served bytes: straight from the binary, or decoded from base64 for binary files.
struct AssetBody {
    private let asset: Asset
    private let decoded: [UInt8]?

    init(_ asset: Asset) {
        self.asset = asset
        decoded = asset.isBase64
            ? asset.body.withUTF8Buffer { Base64.decode($0) }
            : nil
    }

    var count: Int { decoded?.count ?? asset.body.utf8CodeUnitCount }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let decoded { return decoded.withUnsafeBytes(body) }
        return asset.body.withUTF8Buffer { body(UnsafeRawBufferPointer($0)) }
    }
}
