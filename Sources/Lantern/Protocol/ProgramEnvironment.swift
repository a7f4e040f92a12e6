/// The environment a program started for a WebSocket sees: a small CGI-like set (RFC 3875 §4.1
/// names where one fits) describing the connection, `PATH`, and the variables named by
/// `--exec-env`; nothing else of Lantern's own environment. Never the access token: it travels
/// in `Sec-WebSocket-Protocol` or `Authorization`, and neither header is passed.
public enum ProgramEnvironment {
    /// Request headers passed as `HTTP_*` (RFC 3875 §4.1.18), the rest are left out.
    static let passedHeaders: [StaticString] = ["host", "origin", "user-agent", "accept-language"]

    /// When Lantern itself has no `PATH`.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// `NAME=value` strings. `client`: the forwarded address when the proxy is trusted;
    /// `serverPort`: nil on a Unix socket; `lookup`: Lantern's own environment.
    public static func build(
        connectionID: UInt64, client: PeerAddress, serverPort: UInt16?, head: HTTPRequestHead,
        passing names: [String], version: String, lookup: (String) -> String?
    ) -> [String] {
        var out = ["PATH=" + (lookup("PATH") ?? defaultPath)]
        for name in names where !name.utf8.elementsEqual("PATH".utf8) {
            if let value = lookup(name) { out.append(name + "=" + value) }
        }
        out.append("GATEWAY_INTERFACE=CGI/1.1")
        out.append("SERVER_SOFTWARE=lantern/" + version)
        out.append("SERVER_PROTOCOL=HTTP/1.1")
        out.append("REQUEST_METHOD=GET")
        if case .ip(let address, let port) = client {
            out.append("REMOTE_ADDR=" + address.text)
            if let port { out.append("REMOTE_PORT=\(port)") }
        } else if case .name(let name) = client {
            // A proxy's `for=unknown` or obfuscated `_name` (RFC 7239 §6): as given.
            out.append("REMOTE_ADDR=" + name)
        }
        if let serverPort { out.append("SERVER_PORT=\(serverPort)") }
        let target = head.target
        let question = target.firstIndex(of: UInt8(ascii: "?"))
        out.append("REQUEST_URI=" + string(target[...]))
        out.append("PATH_INFO=" + string(target[..<(question ?? target.endIndex)]))
        out.append("QUERY_STRING=" + (question.map { string(target[($0 + 1)...]) } ?? ""))
        for header in passedHeaders {
            guard let value = head.values(header).first else { continue }
            out.append(variableName(header) + "=" + string(value[...]))
        }
        out.append("LANTERN_CONNECTION_ID=\(connectionID)")
        return out
    }

    /// `user-agent` -> `HTTP_USER_AGENT`.
    static func variableName(_ header: StaticString) -> String {
        var name = "HTTP_"
        for b in header.utf8Bytes {
            name.unicodeScalars.append(Unicode.Scalar(b == UInt8(ascii: "-") ? UInt8(ascii: "_") : (b >= 97 && b <= 122 ? b - 32 : b)))
        }
        return name
    }

    private static func string(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
}
