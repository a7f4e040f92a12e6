/// What the server agrees to when it accepts an upgrade (RFC 6455 §4.2.2).
public struct UpgradeAgreement: Equatable, Sendable {
    /// `Sec-WebSocket-Accept`.
    public var accept: [UInt8]
    /// permessage-deflate as negotiated from the client's offers (RFC 7692 §5), before the
    /// server checks it has memory for it.
    public var deflate: DeflateParameters?
    /// The client sent `Expect: 100-continue`: it gets a 100 before the 101 (RFC 9110 §10.1.1).
    public var expectsContinue: Bool
}

/// Why an upgrade was refused: the HTTP answer, and for an Origin refusal what the log explains.
public struct UpgradeRefusal: Error, Equatable, Sendable {
    public var error: HTTPError
    /// The Origin that was not allowed, and why (nil for every other refusal).
    public var origin: (value: [UInt8], verdict: OriginVerdict)?

    public static func == (a: UpgradeRefusal, b: UpgradeRefusal) -> Bool {
        a.error == b.error && a.origin?.value == b.origin?.value && a.origin?.verdict == b.origin?.verdict
    }
}

/// Decides an upgrade request at the WebSocket endpoint from its head alone: the handshake
/// (§4.2.1), the Origin (§4.2.2 item 4, §10.2) and the extension offers. No I/O.
public enum UpgradeDecision {
    public static func accept(
        _ head: HTTPRequestHead, origins: OriginPolicy, deflate: DeflatePolicy
    ) throws(UpgradeRefusal) -> UpgradeAgreement {
        let accept: [UInt8]
        let origin: [UInt8]?
        do throws(HTTPError) {
            accept = try Handshake.validate(head)
            origin = try head.single("origin")
        } catch {
            throw UpgradeRefusal(error: error, origin: nil)
        }
        let verdict = origins.verdict(origin: origin, host: head.authority)
        guard verdict == .allowed else { throw UpgradeRefusal(error: .forbidden, origin: (origin ?? [], verdict)) }
        let offers = ExtensionOffer.parse(head.values("sec-websocket-extensions"))
        return UpgradeAgreement(
            accept: accept, deflate: DeflateNegotiation.negotiate(offers, policy: deflate),
            expectsContinue: head.hasToken("expect", "100-continue"))
    }
}
