/// What the server agrees to when it accepts an upgrade (RFC 6455 §4.2.2).
public struct UpgradeAgreement: Equatable, Sendable {
    /// `Sec-WebSocket-Accept`.
    public var accept: [UInt8]
    /// permessage-deflate as negotiated from the client's offers (RFC 7692 §5), before the
    /// server checks it has memory for it.
    public var deflate: DeflateParameters?
    /// The client offered the `lantern` subprotocol: the 101 selects it (RFC 6455 §4.2.2 item
    /// 5.4; a browser that offered subprotocols fails a 101 that selects none).
    public var selectsLantern: Bool = false
    /// The client sent `Expect: 100-continue`: it gets a 100 before the 101 (RFC 9110 §10.1.1).
    public var expectsContinue: Bool
}

/// Why an upgrade was refused: the HTTP answer, and for an Origin or access refusal what the
/// log explains.
public struct UpgradeRefusal: Error, Equatable, Sendable {
    public var error: HTTPError
    /// The Origin that was not allowed, and why (nil for every other refusal).
    public var origin: (value: [UInt8], verdict: OriginVerdict)?
    /// Why the access token was refused (nil for every other refusal).
    public var access: AccessVerdict? = nil

    public static func == (a: UpgradeRefusal, b: UpgradeRefusal) -> Bool {
        a.error == b.error && a.origin?.value == b.origin?.value && a.origin?.verdict == b.origin?.verdict && a.access == b.access
    }
}

/// Decides an upgrade request at the WebSocket endpoint from its head alone: the handshake
/// (§4.2.1), the Origin (§4.2.2 item 4, §10.2), the access token when one is configured, the
/// subprotocol and the extension offers. No I/O.
public enum UpgradeDecision {
    /// `access`: the configured token and the address's standing, nil when upgrades are open to all.
    public static func accept(
        _ head: HTTPRequestHead, origins: OriginPolicy, deflate: DeflatePolicy, access: AccessCheck? = nil
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
        let offer = TokenOffer(head)
        if let access, let refused = access.refusal(offer.candidate, upgrade: true) {
            throw UpgradeRefusal(error: refused.error, origin: nil, access: refused.verdict)
        }
        let offers = ExtensionOffer.parse(head.values("sec-websocket-extensions"))
        return UpgradeAgreement(
            accept: accept, deflate: DeflateNegotiation.negotiate(offers, policy: deflate),
            selectsLantern: offer.offersLantern, expectsContinue: head.hasToken("expect", "100-continue"))
    }
}
