/// The server side of the opening handshake (RFC 6455 §4.2).
public enum Handshake {
    private static let guid: StaticString = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a client key: base64(SHA-1(key + GUID)) (§4.2.2 step 5.4).
    public static func acceptValue<C: Collection>(forKey key: C) -> [UInt8] where C.Element == UInt8 {
        var input = Array(key)
        input.append(contentsOf: guid.utf8Bytes)
        return Base64.encode(SHA1.hash(input))
    }

    /// Checks an upgrade request (§4.2.1) and returns the accept value to answer with.
    public static func validate(_ head: HTTPRequestHead) throws(HTTPError) -> [UInt8] {
        // 1. A GET of HTTP/1.1 or later.
        guard head.method == Array("GET".utf8) else { throw .methodNotAllowed(allow: "GET") }
        guard head.minorVersion >= 1 else { throw .badRequest("WebSocket needs HTTP/1.1") }
        // 2. A Host header naming the server (a ws URI always has a host, §3).
        guard let host = try head.single("host"), !host.isEmpty else { throw .badRequest("missing Host") }
        // The client starts speaking WebSocket once its request is complete (RFC 9110 §7.8): a
        // body would be read as frames.
        guard try head.body() == .none else { throw .badRequest("request body on upgrade") }
        // 3–4. Upgrade: websocket, and Connection listing the upgrade token.
        if head.values("upgrade").isEmpty { throw .upgradeRequired }
        guard head.hasToken("upgrade", "websocket") else { throw .badRequest("Upgrade is not websocket") }
        guard head.hasToken("connection", "upgrade") else { throw .badRequest("Connection lacks upgrade") }
        // 6. Version 13 only; anything else gets 426 with the version we speak (§4.4).
        guard let version = try head.single("sec-websocket-version"), version == Array("13".utf8) else {
            throw .unsupportedVersion
        }
        // 5. A key that is base64 of 16 bytes.
        guard let key = try head.single("sec-websocket-key"), let raw = Base64.decode(key), raw.count == 16 else {
            throw .badRequest("invalid Sec-WebSocket-Key")
        }
        return acceptValue(forKey: key)
    }
}
