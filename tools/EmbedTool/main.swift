// EmbedTool: turns every file of Web/ into one Swift source file (build time only).
//
// Usage: EmbedTool <output.swift> <web-dir> [<file>...]   (embeds every file under <web-dir>)
//
// Each file becomes an `Asset` whose body is an escaped single-line `StaticString` literal
// (bytes land in read-only data and compile in milliseconds; a `[UInt8]` literal of 100 KB
// takes 13–26 s), or base64 text when the bytes are not valid UTF-8. Compressible types also
// get a gzip variant (zlib level 9, made here once), as base64 text, when it is smaller.
import CZlib
import Foundation

/// One input file, ready to be written as an `Asset(...)` expression.
struct Entry {
    /// Request path: "/" + the path relative to Web/ (unescaped).
    let path: String
    /// `Content-Type` header value chosen from the file extension.
    let contentType: String
    /// Strong ETag including the quotes.
    let etag: String
    /// Escaped literal contents (without the surrounding quotes).
    let body: String
    /// Whether `body` is base64 text.
    let isBase64: Bool
    /// The gzip variant as base64 text and its strong ETag (with quotes), when it is smaller.
    let gzip: (body: String, etag: String)?
}

/// Content types by lowercase file extension; anything else is `application/octet-stream`.
let contentTypes: [String: String] = [
    "html": "text/html; charset=utf-8",
    "css": "text/css; charset=utf-8",
    "js": "text/javascript; charset=utf-8",
    "mjs": "text/javascript; charset=utf-8",
    "json": "application/json",
    "svg": "image/svg+xml",
    "png": "image/png",
    "ico": "image/x-icon",
    "txt": "text/plain; charset=utf-8",
    "webmanifest": "application/manifest+json",
    "woff2": "font/woff2",
    "xml": "application/xml",
    "map": "application/json",
    "webp": "image/webp",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "wasm": "application/wasm",
]

/// Extensions whose content usually shrinks under gzip; images and fonts already are compressed.
let compressibleExtensions: Set<String> = ["html", "css", "js", "mjs", "json", "svg", "txt", "webmanifest", "ico", "xml", "map"]

/// `bytes` as a gzip member (RFC 1952) at zlib level 9; deterministic (mtime 0, no name).
func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    var stream = z_stream()
    // windowBits 15 + 16 selects the gzip wrapper; memLevel 9 is zlib's best for ratio.
    guard lantern_deflateInit2(&stream, 9, 15 + 16, 9) == Z_OK else { throw EmbedError("deflateInit2 failed") }
    defer { deflateEnd(&stream) }
    var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(bytes.count))) + 32)
    var input = bytes
    let status = input.withUnsafeMutableBufferPointer { inBuffer in
        output.withUnsafeMutableBufferPointer { outBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            stream.next_out = outBuffer.baseAddress
            stream.avail_out = uInt(outBuffer.count)
            return deflate(&stream, Z_FINISH)
        }
    }
    guard status == Z_STREAM_END else { throw EmbedError("deflate failed (\(status))") }
    return Array(output[0..<Int(stream.total_out)])
}

/// Strong ETag (quotes included) for `bytes`; `suffix` keeps encodings apart even if hashes met.
func entityTag(_ bytes: [UInt8], suffix: String = "") -> String {
    #"\""# + String(fnv1a64(bytes), radix: 16).leftPadded(to: 16) + suffix + #"\""#
}

/// FNV-1a, 64 bits: a stable content hash for the ETag (not a security boundary).
func fnv1a64(_ bytes: [UInt8]) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash &*= 0x0000_0100_0000_01b3
    }
    return hash
}

/// Escapes `text` for the inside of a single-line Swift string literal so that it round-trips
/// byte for byte: backslash (which also defuses `\(` interpolation), quote, and every control
/// character; a raw CR or LF would end the literal (and a multi-line literal normalises them).
func swiftLiteralContents(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    out.reserveCapacity(text.utf8.count + text.utf8.count / 8)
    let hex = Array("0123456789ABCDEF".unicodeScalars)
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out.append(contentsOf: #"\\"#.unicodeScalars)
        case "\"": out.append(contentsOf: #"\""#.unicodeScalars)
        case "\n": out.append(contentsOf: #"\n"#.unicodeScalars)
        case "\r": out.append(contentsOf: #"\r"#.unicodeScalars)
        case "\t": out.append(contentsOf: #"\t"#.unicodeScalars)
        case "\u{00}"..."\u{1F}", "\u{7F}":
            let value = Int(scalar.value)
            out.append(contentsOf: #"\u{"#.unicodeScalars)
            out.append(hex[value >> 4])
            out.append(hex[value & 0xF])
            out.append("}")
        default: out.append(scalar)
        }
    }
    return String(out)
}

/// Builds the entry for `file`, which must lie inside `webDirectory`.
func entry(for file: URL, in webDirectory: URL) throws -> Entry {
    let filePath = file.standardizedFileURL.path(percentEncoded: false)
    var root = webDirectory.standardizedFileURL.path(percentEncoded: false)
    if !root.hasSuffix("/") { root += "/" }
    guard filePath.hasPrefix(root) else {
        throw EmbedError("\(filePath) is not inside \(root)")
    }
    let relative = String(filePath.dropFirst(root.count))
    let bytes = [UInt8](try Data(contentsOf: file))
    let ext = (relative as NSString).pathExtension.lowercased()
    let text = String(validating: bytes, as: UTF8.self)
    var variant: (body: String, etag: String)?
    if compressibleExtensions.contains(ext) {
        let compressed = try gzip(bytes)
        if compressed.count < bytes.count {
            variant = (Data(compressed).base64EncodedString(), entityTag(compressed, suffix: "-gz"))
        }
    }
    return Entry(
        path: "/" + relative,
        contentType: contentTypes[ext] ?? "application/octet-stream",
        etag: entityTag(bytes),
        body: text.map(swiftLiteralContents) ?? Data(bytes).base64EncodedString(),
        isBase64: text == nil,
        gzip: variant
    )
}

/// The whole generated file, deterministic for a given set of inputs.
func render(_ entries: [Entry]) -> String {
    var out = """
        // Generated by tools/EmbedTool from Web/ at build time. Do not edit.

        /// Every file of Web/, generated at build time by tools/EmbedTool.
        enum CompiledAssets {
            /// All assets, sorted by path (UTF-8 byte order).
            static let all: [Asset] = [

        """
    for entry in entries {
        out += "        Asset(path: \"\(swiftLiteralContents(entry.path))\", contentType: \"\(entry.contentType)\", "
        out += "etag: \"\(entry.etag)\", body: \"\(entry.body)\", isBase64: \(entry.isBase64), "
        if let gzip = entry.gzip {
            out += "gzipETag: \"\(gzip.etag)\", gzipBody: \"\(gzip.body)\"),\n"
        } else {
            out += "gzipETag: nil, gzipBody: nil),\n"
        }
    }
    out += "    ]\n}\n"
    return out
}

/// A usage or input error, printed to stderr.
struct EmbedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// `self` with leading zeros up to `width` characters.
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// Every regular file under `directory`, recursively, skipping dotfiles and dot-folders.
///
/// The tool scans for itself rather than trusting its argument list: SwiftPM keeps a stale list
/// until it re-plans the build, but re-runs this command when a folder's mtime changes.
func assetFiles(in directory: URL) throws -> [URL] {
    guard FileManager.default.fileExists(atPath: directory.path(percentEncoded: false)),
          let enumerator = FileManager.default.enumerator(
              at: directory, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]
          )
    else { return [] }
    var files: [URL] = []
    for case let url as URL in enumerator
    where try url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile == true {
        files.append(url)
    }
    return files
}

do {
    // 1. Arguments: output file, Web/ folder, then the files the plugin declared as inputs.
    let arguments = Array(CommandLine.arguments.dropFirst())
    guard arguments.count >= 2 else {
        throw EmbedError("usage: EmbedTool <output.swift> <web-dir> [<file>...]")
    }
    let output = URL(fileURLWithPath: arguments[0])
    let webDirectory = URL(fileURLWithPath: arguments[1], isDirectory: true)
    // 2. The listed files only catch wiring mistakes; the fresh scan decides what is embedded.
    var listed: Set<String> = []
    for argument in arguments.dropFirst(2) {
        let path = URL(fileURLWithPath: argument).standardizedFileURL.path(percentEncoded: false)
        guard path.hasPrefix(webDirectory.standardizedFileURL.path(percentEncoded: false)) else {
            throw EmbedError("\(path) is not inside \(webDirectory.path(percentEncoded: false))")
        }
        listed.insert(path)
    }
    let files = try assetFiles(in: webDirectory)
    // A file the plan does not list (new since SwiftPM last planned, e.g. in a new sub-folder)
    // is embedded now, but SwiftPM will not notice its later edits: say how to fix that. Only
    // the plugin passes a list; release-embedded.sh runs the tool without one.
    for file in files where !listed.isEmpty && !listed.contains(file.standardizedFileURL.path(percentEncoded: false)) {
        FileHandle.standardError.write(Data(("warning: \(file.path(percentEncoded: false)) is new to this build plan: it is embedded, "
            + "but later edits to it go unnoticed until the build is re-planned (touch Package.swift)\n").utf8))
    }
    // 3. One entry per file, in UTF-8 byte order of the request path.
    let entries = try files
        .map { try entry(for: $0, in: webDirectory) }
        .sorted { $0.path.utf8.lexicographicallyPrecedes($1.path.utf8) }
    // 4. Rewriting identical content would only bump the mtime and recompile the module.
    let source = Data(render(entries).utf8)
    if (try? Data(contentsOf: output)) != source {
        try source.write(to: output, options: .atomic)
    }
} catch {
    FileHandle.standardError.write(Data("EmbedTool: \(error)\n".utf8))
    exit(1)
}
