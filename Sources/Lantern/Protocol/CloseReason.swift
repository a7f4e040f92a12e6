/// Why the server closes a connection: the code and the text of its close frame. Every close
/// the server starts or answers takes one of these, so the codes and words live in one place.
public struct CloseReason: Equatable, Sendable {
    public static func == (a: CloseReason, b: CloseReason) -> Bool {
        a.code == b.code && a.text.utf8Bytes == b.text.utf8Bytes
    }

    /// Nil only for the reply to a close frame that carried no code (RFC 6455 §5.5.1: the
    /// reply echoes the code it received, and an empty payload has none).
    public let code: CloseCode?
    public let text: StaticString

    public init(_ code: CloseCode?, _ text: StaticString = "") {
        self.code = code
        self.text = text
    }

    /// The peer broke a rule of RFC 6455 / RFC 7692, or a limit (§7.4.1 picks the code).
    public init(_ violation: ProtocolError) { self.init(violation.closeCode, violation.reason) }

    /// The answer to the peer's close frame: its own code back, no text (§5.5.1).
    public static func reply(to code: CloseCode?) -> CloseReason { CloseReason(code) }

    /// SIGTERM: every connection gets 1001 before the process exits.
    public static let shuttingDown = CloseReason(.goingAway, "server shutting down")
    /// Nothing heard for `--idle-timeout`.
    public static let idleTimeout = CloseReason(.goingAway, "idle timeout")
    /// Receiving would pass `--max-buffered-bytes` (1013: IANA's "try again later").
    public static let serverBusy = CloseReason(.tryAgainLater, "server busy, try again later")
    /// Its outgoing queue overflowed in fan-out mode.
    public static let slowConsumer = CloseReason(.policyViolation, "slow consumer")

    /// The close frame's payload (the text cut to fit §5.5's 125 bytes).
    public var payload: [UInt8] { ClosePayload.encode(code: code, reason: text) }
}
