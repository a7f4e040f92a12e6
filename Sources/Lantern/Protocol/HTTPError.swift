/// Every answer the server gives a request it will not serve: the one place where a refusal's
/// status, reason phrase, body text, extra header fields and connection fate are decided
/// (the response bytes are built from it by `HTTPResponse.refusal`, the /metrics label is its
/// status).
public enum HTTPError: Error, Equatable, Sendable {
    public static func == (a: HTTPError, b: HTTPError) -> Bool {
        a.status == b.status && a.message.utf8Bytes == b.message.utf8Bytes
    }

    case badRequest(StaticString)
    /// An upgrade from an Origin the policy does not allow (RFC 6455 §4.2.2, §10.2).
    case forbidden
    /// An upgrade without the access token, or with a wrong one (`--access-token-file`); the
    /// text says which, never the token.
    case accessDenied(StaticString)
    /// /metrics without the access token as a Bearer credential, or with a wrong one (RFC 6750 §3).
    case unauthorized(StaticString)
    /// Too many wrong access tokens from this address: wait this many seconds (RFC 6585 §4).
    case tooManyRequests(retryAfterSeconds: Int64)
    case notFound
    /// A method the resource does not allow; `allow` lists the ones it does (RFC 9110 §15.5.6).
    case methodNotAllowed(allow: StaticString)
    /// Not an upgrade request at the WebSocket endpoint.
    case upgradeRequired
    /// `Sec-WebSocket-Version` other than 13 (RFC 6455 §4.4).
    case unsupportedVersion
    case headerTooLarge
    /// At the connection cap: the client may come back later.
    case serviceUnavailable
    /// A method this server does not know at all (RFC 9110 §9.1), as opposed to one a resource
    /// does not allow (405).
    case notImplemented
    /// An HTTP major version other than 1 (RFC 9110 §15.6.6).
    case httpVersionNotSupported

    /// Every status a refusal can have, in the order /metrics lists them.
    public static let statuses = [400, 401, 403, 404, 405, 426, 429, 431, 501, 503, 505]

    public var status: Int {
        switch self {
        case .badRequest: return 400
        case .unauthorized: return 401
        case .forbidden, .accessDenied: return 403
        case .notFound: return 404
        case .methodNotAllowed: return 405
        case .upgradeRequired, .unsupportedVersion: return 426
        case .tooManyRequests: return 429
        case .headerTooLarge: return 431
        case .notImplemented: return 501
        case .serviceUnavailable: return 503
        case .httpVersionNotSupported: return 505
        }
    }

    /// The reason phrase of the status line (RFC 9110 §15).
    public var reasonPhrase: StaticString {
        switch self {
        case .badRequest: return "Bad Request"
        case .unauthorized: return "Unauthorized"
        case .forbidden, .accessDenied: return "Forbidden"
        case .notFound: return "Not Found"
        case .methodNotAllowed: return "Method Not Allowed"
        case .upgradeRequired, .unsupportedVersion: return "Upgrade Required"
        case .tooManyRequests: return "Too Many Requests"
        case .headerTooLarge: return "Request Header Fields Too Large"
        case .notImplemented: return "Not Implemented"
        case .serviceUnavailable: return "Service Unavailable"
        case .httpVersionNotSupported: return "HTTP Version Not Supported"
        }
    }

    /// The body (a line of plain text) and the log's explanation.
    public var message: StaticString {
        switch self {
        case .badRequest(let why): return why
        case .forbidden: return "origin not allowed"
        case .accessDenied(let why), .unauthorized(let why): return why
        case .tooManyRequests: return "too many wrong access tokens, try again later"
        case .notFound: return "not found"
        case .methodNotAllowed: return "method not allowed"
        case .upgradeRequired: return "WebSocket upgrade required"
        case .unsupportedVersion: return "unsupported WebSocket version"
        case .headerTooLarge: return "request header too large"
        case .serviceUnavailable: return "server busy, try again"
        case .notImplemented: return "method not implemented"
        case .httpVersionNotSupported: return "HTTP version not supported"
        }
    }

    /// Header fields the status calls for, besides Content-Type, Content-Length and Connection.
    public var headerFields: [(name: StaticString, value: String)] {
        switch self {
        // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to; RFC 6455 §4.4: and the
        // versions we speak when that was the problem.
        case .upgradeRequired: return [("Upgrade", "websocket")]
        case .unsupportedVersion: return [("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
        case .methodNotAllowed(let allow): return [("Allow", String(decoding: allow.utf8Bytes, as: UTF8.self))]
        case .serviceUnavailable: return [("Retry-After", "5")]
        // RFC 6750 §3: a 401 names the scheme and realm the client should authenticate with.
        case .unauthorized: return [("WWW-Authenticate", "Bearer realm=\"lantern\"")]
        case .tooManyRequests(let seconds): return [("Retry-After", String(seconds))]
        // A missing favicon must not cost the page its connection, nor be cached for good.
        case .notFound: return [("Cache-Control", "no-cache"), ("X-Content-Type-Options", "nosniff")]
        default: return []
        }
    }

    /// A refusal of the access check (missing or wrong token, or too many wrong ones).
    public var isAccessRefusal: Bool {
        switch self {
        case .accessDenied, .unauthorized, .tooManyRequests: return true
        default: return false
        }
    }

    /// The Connection field: nil when the connection may stay open (only a 404 leaves it to
    /// the request's keep-alive); a sender of Upgrade lists it there too (RFC 9110 §7.8).
    public var connectionField: StaticString? {
        switch self {
        case .notFound: return nil
        case .upgradeRequired, .unsupportedVersion: return "Upgrade, close"
        default: return "close"
        }
    }
}
