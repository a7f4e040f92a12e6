/// This server's permessage-deflate preferences (RFC 7692), from its own point of view.
public struct DeflatePolicy: Sendable {
    public var enabled = true
    /// Window of our compressor, 9–15 (zlib's raw deflate cannot do 8).
    public var sendMaxWindowBits = 12
    /// zlib memLevel of our compressor, 1–9.
    public var memLevel = 4
    /// zlib level, 1 (fast) – 9 (small).
    public var level = 1
    /// Reset our compressor after every message (and free it at once).
    public var sendNoContextTakeover = false
    /// Ask clients that allow it to compress with at most this window (nil: do not ask).
    /// 14, not smaller: zlib compresses 2 KiB chat messages 1.7x slower with a 12-bit window
    /// than with 14 (memLevel 8, as clients use), while our inflater saves only 12 KB.
    public var requestReceiveMaxWindowBits: Int? = 14
    /// Ask clients to reset their compressor per message, so our inflater can be freed.
    public var requestReceiveNoContextTakeover = false
    /// Messages shorter than this go out uncompressed (RSV1 clear, allowed per message).
    public var thresholdBytes = 64
    /// Process-wide cap on live zlib memory; above it new messages go out uncompressed.
    public var budgetBytes = 32 << 20

    public init() {}

    /// Named presets for `--deflate-memory`.
    public static func preset(_ name: String) -> DeflatePolicy? {
        var p = DeflatePolicy()
        switch name {
        case "small":
            p.sendMaxWindowBits = 9
            p.memLevel = 1
            p.requestReceiveMaxWindowBits = 9
            p.sendNoContextTakeover = true
            p.requestReceiveNoContextTakeover = true
        case "default":
            break
        case "max":
            p.sendMaxWindowBits = 15
            p.memLevel = 8
            p.requestReceiveMaxWindowBits = nil
        default:
            return nil
        }
        return p
    }
}

/// What both ends agreed on for one connection, from this server's point of view.
public struct DeflateParameters: Equatable, Sendable {
    /// We reset our compressor after each message.
    public var sendNoContextTakeover: Bool
    /// The client resets its compressor after each message, so our inflater may be reset too.
    public var receiveNoContextTakeover: Bool
    /// Largest window our compressor may use. 8 means "never compress": zlib's raw deflate
    /// cannot produce an 8-bit window, but sending uncompressed messages is always allowed.
    public var sendMaxWindowBits: Int
    /// Window our inflater needs (the client's compressor window, at least 9: zlib turns a
    /// requested 8 into 9, so a stream "of window 8" may reach back 512 bytes).
    public var receiveWindowBits: Int
    /// The `Sec-WebSocket-Extensions` response value.
    public var response: [UInt8]
}

/// Chooses the first permessage-deflate offer this server can honour (RFC 7692 §5, §7.1).
public enum DeflateNegotiation {
    public static func negotiate(_ offers: [ExtensionOffer], policy: DeflatePolicy) -> DeflateParameters? {
        guard policy.enabled else { return nil }
        for offer in offers where ASCII.equalsIgnoringCase(offer.name, "permessage-deflate") {
            if let agreed = accept(offer, policy) { return agreed }
        }
        return nil
    }

    private enum ClientWindow { case absent, noValue, value(Int) }

    private static func accept(_ offer: ExtensionOffer, _ policy: DeflatePolicy) -> DeflateParameters? {
        var serverNoContext = false
        var clientNoContext = false
        var serverWindow: Int? = nil
        var clientWindow = ClientWindow.absent
        var seen: [[UInt8]] = []
        for parameter in offer.parameters {
            // §7: an offer with a duplicated parameter is declined.
            if seen.contains(parameter.name) { return nil }
            seen.append(parameter.name)
            switch String(decoding: parameter.name, as: UTF8.self) {
            case "server_no_context_takeover":
                guard parameter.value == nil else { return nil }
                serverNoContext = true
            case "client_no_context_takeover":
                guard parameter.value == nil else { return nil }
                clientNoContext = true
            case "server_max_window_bits":
                guard let bits = windowBits(parameter.value) else { return nil }
                serverWindow = bits
            case "client_max_window_bits":
                if let value = parameter.value {
                    guard let bits = windowBits(value) else { return nil }
                    clientWindow = .value(bits)
                } else {
                    clientWindow = .noValue
                }
            default:
                // §7: unknown parameters make the offer unacceptable.
                return nil
            }
        }
        _ = clientNoContext  // a hint only; we rely on it solely when we ask for it ourselves

        var response = Array("permessage-deflate".utf8)
        let sendNoContext = serverNoContext || policy.sendNoContextTakeover
        if sendNoContext { response += Array("; server_no_context_takeover".utf8) }
        var sendWindow = policy.sendMaxWindowBits
        if let serverWindow {
            // §7.1.2.1: accept by answering with the same or a smaller value.
            sendWindow = min(sendWindow, serverWindow)
            response += Array("; server_max_window_bits=\(sendWindow)".utf8)
        }
        let receiveNoContext = policy.requestReceiveNoContextTakeover
        if receiveNoContext { response += Array("; client_no_context_takeover".utf8) }
        var receiveWindow = 15
        switch clientWindow {
        case .absent:
            break  // §7.1.2.2: we must not limit a client that did not offer the parameter
        case .noValue:
            if let wanted = policy.requestReceiveMaxWindowBits {
                receiveWindow = wanted
                response += Array("; client_max_window_bits=\(wanted)".utf8)
            }
        case .value(let offered):
            // §7.1.2.2: the offered value binds the client only once the response repeats it
            // (or a smaller one); without it the client may use 15 bits.
            receiveWindow = min(offered, policy.requestReceiveMaxWindowBits ?? offered)
            response += Array("; client_max_window_bits=\(receiveWindow)".utf8)
        }
        return DeflateParameters(
            sendNoContextTakeover: sendNoContext,
            receiveNoContextTakeover: receiveNoContext,
            sendMaxWindowBits: sendWindow,
            receiveWindowBits: max(9, receiveWindow),
            response: response
        )
    }

    /// A window-bits value: a decimal 8–15 without leading zeros (§7.1.2).
    private static func windowBits(_ value: [UInt8]?) -> Int? {
        guard let value, DecimalNumber.isCanonical(value) else { return nil }
        return DecimalNumber.parseInt(value, in: 8...15)
    }
}
