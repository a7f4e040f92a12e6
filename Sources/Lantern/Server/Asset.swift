/// One file of Web/, compiled into the binary by the EmbedAssets build-tool plugin.
///
/// Bytes live in the binary's read-only data as `StaticString`s: a big `[UInt8]` literal
/// costs seconds of compile time per 100 KB, an escaped string literal almost nothing.
public struct Asset: Sendable {
    /// Request path, e.g. `/client.html` (always starts with `/`).
    public let path: StaticString
    /// `Content-Type` header value, e.g. `text/html; charset=utf-8`.
    public let contentType: StaticString
    /// Strong entity tag including the quotes, e.g. `"3f2a…"` (a hash of the bytes).
    public let etag: StaticString
    /// The file's bytes; base64 text when `isBase64` (files that are not valid UTF-8).
    public let body: StaticString
    /// Whether `body` holds base64 text that must be decoded before serving.
    public let isBase64: Bool

    public init(path: StaticString, contentType: StaticString, etag: StaticString, body: StaticString, isBase64: Bool) {
        self.path = path
        self.contentType = contentType
        self.etag = etag
        self.body = body
        self.isBase64 = isBase64
    }
}
