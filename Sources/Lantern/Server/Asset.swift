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
    /// Strong entity tag of the gzip variant (distinct from `etag`); nil when there is none.
    public let gzipETag: StaticString?
    /// The gzip variant (RFC 1952), made at build time, as base64 text; nil when gzip would not
    /// make the file smaller or its type is already compressed.
    public let gzipBody: StaticString?

    public init(path: StaticString, contentType: StaticString, etag: StaticString, body: StaticString, isBase64: Bool,
                gzipETag: StaticString? = nil, gzipBody: StaticString? = nil) {
        self.path = path
        self.contentType = contentType
        self.etag = etag
        self.body = body
        self.isBase64 = isBase64
        self.gzipETag = gzipETag
        self.gzipBody = gzipBody
    }
}

/// Bytes ready to send: straight from the binary's read-only data, or decoded once at start-up.
enum AssetBytes: Sendable {
    /// UTF-8 text served as is from the literal (no copy).
    case literal(StaticString)
    /// Bytes decoded from base64 when the store was built.
    case decoded([UInt8])

    /// Number of bytes sent as the body.
    var count: Int {
        switch self {
        case .literal(let text): return text.utf8CodeUnitCount
        case .decoded(let bytes): return bytes.count
        }
    }

    /// Calls `body` with the bytes, without copying them.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch self {
        case .literal(let text): return text.withUTF8Buffer { body(UnsafeRawBufferPointer($0)) }
        case .decoded(let bytes): return bytes.withUnsafeBytes(body)
        }
    }

    /// Base64 text decoded; an undecodable literal (a generator bug) becomes empty bytes.
    static func base64(_ text: StaticString) -> AssetBytes {
        .decoded(text.withUTF8Buffer { Base64.decode($0) } ?? [])
    }
}

/// One encoding of an asset: its validator and its bytes.
struct AssetRepresentation: Sendable {
    /// Strong entity tag including the quotes.
    let etag: StaticString
    /// The body sent for this encoding.
    let bytes: AssetBytes
}

/// The compiled-in assets with every base64 body decoded exactly once, sorted for binary search.
struct AssetStore: Sendable {
    /// A served file: identity bytes and, for compressible types, a smaller gzip variant.
    struct Entry: Sendable {
        /// Request path, e.g. `/client.html`.
        let path: StaticString
        /// `Content-Type` header value.
        let contentType: StaticString
        /// The file's own bytes.
        let identity: AssetRepresentation
        /// `Content-Encoding: gzip` bytes, when smaller than `identity`.
        let gzip: AssetRepresentation?
    }

    /// Entries in UTF-8 byte order of their path.
    let entries: [Entry]

    /// The table the EmbedAssets plugin generated, decoded on first use.
    static let compiled = AssetStore(CompiledAssets.all)

    init(_ assets: [Asset]) {
        var entries: [Entry] = []
        entries.reserveCapacity(assets.count)
        for asset in assets {
            let identity = AssetRepresentation(
                etag: asset.etag,
                bytes: asset.isBase64 ? .base64(asset.body) : .literal(asset.body)
            )
            var gzip: AssetRepresentation?
            if let etag = asset.gzipETag, let body = asset.gzipBody {
                gzip = AssetRepresentation(etag: etag, bytes: .base64(body))
            }
            entries.append(Entry(path: asset.path, contentType: asset.contentType, identity: identity, gzip: gzip))
        }
        entries.sort { a, b in
            a.path.withUTF8Buffer { x in b.path.withUTF8Buffer { y in x.lexicographicallyPrecedes(y) } }
        }
        self.entries = entries
    }

    /// The entry whose path equals `path` byte for byte (binary search).
    func entry<C: Collection>(for path: C) -> Entry? where C.Element == UInt8 {
        var low = 0, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            let order: Int = entries[mid].path.withUTF8Buffer { candidate in
                if candidate.elementsEqual(path) { return 0 }
                return candidate.lexicographicallyPrecedes(path) ? -1 : 1
            }
            if order == 0 { return entries[mid] }
            if order < 0 { low = mid + 1 } else { high = mid }
        }
        return nil
    }
}
