/// How a request says its body is delimited (RFC 9112 §6). The server never reads a body; it
/// needs to know whether one follows, because the bytes after the head are then not the next
/// request, nor WebSocket frames.
public enum RequestBody: Equatable, Sendable {
    case none
    /// A Content-Length: 64 bits on every CPU, since a valid one may pass 2^31 (RFC 9110 §8.6).
    case length(UInt64)
    /// Transfer-Encoding: the length is known only by decoding it.
    case transferCoded
}

extension HTTPRequestHead {
    /// The request's body framing; `.badRequest` for framing that cannot be trusted.
    public func body() throws(HTTPError) -> RequestBody {
        if !values("transfer-encoding").isEmpty {
            // §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing, even with a
            // Content-Length; in 1.1 it overrides any Content-Length.
            if minorVersion == 0 { throw .badRequest("Transfer-Encoding in HTTP/1.0") }
            return .transferCoded
        }
        // §6.3 item 5 and §8.6: every Content-Length (lines and list members) must be the same
        // decimal number; anything else is an unrecoverable framing error.
        var length: UInt64?
        for value in values("content-length") {
            for member in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                let digits = ASCII.trimmed(member)
                // §8.6: a recipient must not overflow on a long numeral. In UInt64, not Int (32
                // bits on ARMv7, where 10 digits trapped), and at most 18 digits (< 10^18 < 2^63).
                guard digits.count <= 18, let n = DecimalNumber.parse(digits) else { throw .badRequest("invalid Content-Length") }
                if let length, length != n { throw .badRequest("conflicting Content-Length") }
                length = n
            }
        }
        guard let length, length > 0 else { return .none }
        return .length(length)
    }

    /// What every request must pass before it is served: its framing, its Host (§3.2) and a
    /// method HTTP defines. Returns the body framing.
    public func checkMessage() throws(HTTPError) -> RequestBody {
        let body = try body()
        try checkHost()
        guard hasKnownMethod else { throw .notImplemented }
        return body
    }
}
