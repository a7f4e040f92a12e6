/// libFuzzer target "extensions": ExtensionOffer.parse over the input split into header lines at
/// '\n', then DeflateNegotiation.negotiate under the default, "small" and "max" policies.
/// The input is the raw `Sec-WebSocket-Extensions` values, one per line.

private let knownFlags: [[UInt8]] = [Array("server_no_context_takeover".utf8), Array("client_no_context_takeover".utf8)]
private let knownBits: [[UInt8]] = [Array("server_max_window_bits".utf8), Array("client_max_window_bits".utf8)]

private func isToken<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
    !bytes.isEmpty && bytes.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}

/// Serializes offers back into one header value (every value a token, so no quoting is needed).
private func serialize(_ offers: [ExtensionOffer]) -> [UInt8] {
    var out: [UInt8] = []
    for (i, offer) in offers.enumerated() {
        if i > 0 { out += Array(", ".utf8) }
        out += offer.name
        for p in offer.parameters {
            out += Array("; ".utf8) + p.name
            if let v = p.value { out += [UInt8(ascii: "=")] + v }
        }
    }
    return out
}

private func windowValue(_ value: [UInt8]?) -> Int? {
    guard let value, !value.isEmpty, value.count <= 2, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
    return value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { Array($0) }
    let offers = ExtensionOffer.parse(lines)

    // Every parsed element is made of tokens and survives a serialize/parse round trip.
    for offer in offers {
        check(isToken(offer.name), "offer name is not a token")
        for p in offer.parameters {
            check(isToken(p.name), "parameter name is not a token")
            if let v = p.value { check(isToken(v), "parameter value is not a token") }
        }
    }
    check(ExtensionOffer.parse([serialize(offers)]) == offers, "offers do not survive a round trip")
    // Splitting the same text into lines differently (one line per offer) changes nothing.
    check(ExtensionOffer.parse(offers.map { serialize([$0]) }) == offers, "per-line round trip differs")

    var policies = [DeflatePolicy(), DeflatePolicy.preset("small")!, DeflatePolicy.preset("max")!]
    var off = DeflatePolicy()
    off.enabled = false
    policies.append(off)
    for policy in policies {
        guard let agreed = DeflateNegotiation.negotiate(offers, policy: policy) else { continue }
        check(policy.enabled, "negotiated while disabled")
        let answer = ExtensionOffer.parse([agreed.response])
        check(answer.count == 1, "response is not exactly one extension")
        let response = answer[0]
        check(response.name == Array("permessage-deflate".utf8), "response is not permessage-deflate")
        var seen: [[UInt8]] = []
        var serverBits: Int? = nil, clientBits: Int? = nil, serverNoContext = false
        for p in response.parameters {
            check(!seen.contains(p.name), "duplicate parameter in the response")
            seen.append(p.name)
            if knownFlags.contains(p.name) {
                check(p.value == nil, "flag parameter with a value")
                if p.name == knownFlags[0] { serverNoContext = true }
            } else if knownBits.contains(p.name) {
                // The response must carry a value (RFC 7692 §7.1.2.2 forbids a bare client_max_window_bits).
                guard let bits = windowValue(p.value), (8...15).contains(bits) else { checkFailure("bad window bits in response") }
                if p.name == knownBits[0] { serverBits = bits } else { clientBits = bits }
            } else {
                checkFailure("unknown parameter in the response")
            }
        }
        // The parameters agree with the response text and the policy.
        check(agreed.sendNoContextTakeover == serverNoContext, "sendNoContextTakeover disagrees with response")
        check((8...15).contains(agreed.sendMaxWindowBits) && agreed.sendMaxWindowBits <= policy.sendMaxWindowBits,
                     "send window out of range")
        if let serverBits { check(agreed.sendMaxWindowBits == serverBits, "send window disagrees with response") }
        check((9...15).contains(agreed.receiveWindowBits), "receive window out of range")
        if let clientBits { check(agreed.receiveWindowBits == max(9, clientBits), "receive window disagrees with response") }
        if agreed.receiveNoContextTakeover {
            check(seen.contains(knownFlags[1]), "relies on client_no_context_takeover it did not ask for")
        }
        // The accepted offer must be one of the inputs, named permessage-deflate (any case).
        check(offers.contains { ASCII.equalsIgnoringCase($0.name, "permessage-deflate") }, "accepted a non-offer")
    }
    return 0
}
