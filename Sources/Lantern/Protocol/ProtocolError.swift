/// A violation of RFC 6455 / RFC 7692 by the peer, or a limit it exceeded.
/// Each case maps to the close code the connection is failed with.
public enum ProtocolError: Error, Equatable, Sendable {
    case reservedBitsSet
    case unmaskedClientFrame
    case unknownOpcode(UInt8)
    case controlFrameTooLong
    case fragmentedControlFrame
    case unexpectedContinuation
    case expectedContinuation
    case invalidLength
    case invalidCloseCode(UInt16)
    case closePayloadTooShort
    case invalidUTF8
    case messageTooBig
    case compressionError

    /// The close code that fails the connection for this error (RFC 6455 §7.4.1).
    public var closeCode: CloseCode {
        switch self {
        case .invalidUTF8, .compressionError: return .invalidPayloadData
        case .messageTooBig: return .messageTooBig
        default: return .protocolError
        }
    }

    /// A short reason for the close frame (well under the 123-byte limit of §5.5).
    public var reason: StaticString {
        switch self {
        case .reservedBitsSet: return "reserved bits set"
        case .unmaskedClientFrame: return "client frame not masked"
        case .unknownOpcode: return "unknown opcode"
        case .controlFrameTooLong: return "control frame too long"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .unexpectedContinuation: return "continuation without a message"
        case .expectedContinuation: return "new message inside a fragmented one"
        case .invalidLength: return "invalid payload length"
        case .invalidCloseCode: return "invalid close code"
        case .closePayloadTooShort: return "close payload of one byte"
        case .invalidUTF8: return "invalid UTF-8"
        case .messageTooBig: return "message too big"
        case .compressionError: return "invalid compressed data"
        }
    }
}
