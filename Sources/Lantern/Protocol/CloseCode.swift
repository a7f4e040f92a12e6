/// A close status code (RFC 6455 §7.4, IANA "WebSocket Close Code Number Registry").
public struct CloseCode: RawRepresentable, Equatable, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(rawValue: 1000)
    public static let goingAway = CloseCode(rawValue: 1001)
    public static let protocolError = CloseCode(rawValue: 1002)
    public static let unsupportedData = CloseCode(rawValue: 1003)
    /// Never sent on the wire: reported when a close frame carried no code (§7.1.5).
    public static let noStatusReceived = CloseCode(rawValue: 1005)
    /// Never sent on the wire: reported when TCP closed without a close frame (§7.1.5).
    public static let abnormalClosure = CloseCode(rawValue: 1006)
    public static let invalidPayloadData = CloseCode(rawValue: 1007)
    public static let policyViolation = CloseCode(rawValue: 1008)
    public static let messageTooBig = CloseCode(rawValue: 1009)
    public static let mandatoryExtension = CloseCode(rawValue: 1010)
    public static let internalError = CloseCode(rawValue: 1011)
    /// IANA registry: the server is overloaded for now (here: too much buffered message data).
    public static let tryAgainLater = CloseCode(rawValue: 1013)

    /// Whether a peer may put this code in a close frame (RFC 6455 §7.4.1–7.4.2):
    /// the registered 1000–1003 and 1007–1011 (1012–1014 registered later by IANA),
    /// and 3000–4999 for libraries and applications. 1004–1006, 1015 and the rest are not.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }
}
