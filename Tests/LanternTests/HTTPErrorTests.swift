import Testing
@testable import Lantern

@Suite("HTTPError")
struct HTTPErrorTests {
    static let all: [HTTPError] = [
        .badRequest("bad"), .forbidden, .notFound, .methodNotAllowed(allow: "GET"), .upgradeRequired, .unsupportedVersion,
        .headerTooLarge, .serviceUnavailable, .notImplemented, .httpVersionNotSupported,
        .accessDenied("access token wrong"), .unauthorized("access token required"), .tooManyRequests(retryAfterSeconds: 7),
    ]

    /// The head of a refusal as lines, and its body.
    static func parts(_ bytes: [UInt8]) -> (lines: [String], body: String) {
        let end = Array("\r\n\r\n".utf8)
        guard let i = (0...(bytes.count - end.count)).first(where: { Array(bytes[$0..<($0 + end.count)]) == end }) else { return ([], "") }
        let head = String(decoding: bytes[..<i], as: UTF8.self)
        return (head.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init), String(decoding: bytes[(i + 4)...], as: UTF8.self))
    }

    @Test("/metrics lists exactly the statuses a refusal can have")
    func statusesAreComplete() {
        #expect(Set(Self.all.map(\.status)) == Set(HTTPError.statuses))
        let metrics = Metrics().render(openConnections: 0, activeConnections: 0, deflateBytes: 0)
        for status in HTTPError.statuses { #expect(metrics.contains("lantern_requests_refused_total{status=\"\(status)\"} 0")) }
    }

    @Test("every refusal: its status line, a plain-text body of the length it declares, and its fields", arguments: all)
    func refusal(error: HTTPError) throws {
        let (lines, body) = Self.parts(HTTPResponse.refusal(error))
        #expect(lines[0] == "HTTP/1.1 \(error.status) \(String(decoding: error.reasonPhrase.utf8Bytes, as: UTF8.self))")
        #expect(body == String(decoding: error.message.utf8Bytes, as: UTF8.self) + "\n")
        #expect(lines.contains("Content-Length: \(body.utf8.count)"))
        #expect(lines.contains("Content-Type: text/plain; charset=utf-8"))
        for field in error.headerFields {
            #expect(lines.contains("\(String(decoding: field.name.utf8Bytes, as: UTF8.self)): \(field.value)"))
        }
        // Only a 404 leaves the connection to the request's keep-alive.
        #expect(lines.contains { $0.hasPrefix("Connection:") } == (error.status != 404))
        // After HEAD: the same head, no body (RFC 9110 §9.3.2).
        let head = Self.parts(HTTPResponse.refusal(error, isHead: true))
        #expect(head.lines == lines && head.body.isEmpty)
    }

    @Test("the fields each status calls for")
    func fields() {
        func lines(_ e: HTTPError) -> [String] { Self.parts(HTTPResponse.refusal(e)).lines }
        // RFC 9110 §15.5.22 and §7.8; RFC 6455 §4.4.
        #expect(lines(.upgradeRequired).contains("Upgrade: websocket"))
        #expect(lines(.upgradeRequired).contains("Connection: Upgrade, close"))
        #expect(lines(.unsupportedVersion).contains("Sec-WebSocket-Version: 13"))
        #expect(lines(.methodNotAllowed(allow: "GET, HEAD")).contains("Allow: GET, HEAD"))
        #expect(lines(.serviceUnavailable).contains("Retry-After: 5"))
        #expect(lines(.forbidden).contains("Connection: close"))
        #expect(!lines(.forbidden).contains { $0.hasPrefix("Upgrade:") || $0.hasPrefix("Allow:") || $0.hasPrefix("Retry-After:") })
    }
}

@Suite("UpgradeDecision")
struct UpgradeDecisionTests {
    static func decide(_ head: HTTPRequestHead, origins: OriginPolicy = OriginPolicy(), deflate: DeflatePolicy = DeflatePolicy())
        -> Result<UpgradeAgreement, UpgradeRefusal>
    {
        Result { () throws(UpgradeRefusal) in try UpgradeDecision.accept(head, origins: origins, deflate: deflate) }
    }

    @Test("the RFC 6455 §1.3 sample is accepted, with its accept value")
    func accepted() throws {
        let agreement = try Self.decide(try upgradeHead(remove("origin"))).get()
        #expect(String(decoding: agreement.accept, as: UTF8.self) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(agreement.deflate == nil && !agreement.expectsContinue)
    }

    @Test("handshake errors come back as the refusal's HTTP error")
    func handshakeErrors() throws {
        #expect(Self.decide(try upgradeHead(remove("upgrade"))) == .failure(UpgradeRefusal(error: .upgradeRequired)))
        #expect(Self.decide(try upgradeHead(replace("Sec-WebSocket-Version", with: "8"))) == .failure(UpgradeRefusal(error: .unsupportedVersion)))
    }

    @Test("an Origin the policy refuses is 403, with the origin and the verdict for the log")
    func origin() throws {
        let foreign = try upgradeHead(replace("Origin", with: "http://evil.example"))
        guard case .failure(let refusal) = Self.decide(foreign) else { Issue.record("accepted"); return }
        #expect(refusal.error == .forbidden)
        #expect(refusal.origin?.value == Array("http://evil.example".utf8))
        #expect(refusal.origin?.verdict == .foreign)
        // Same host under a public DNS name: refused as such (the log suggests --allow-origin).
        let rebinding = try upgradeHead { lines in
            replace("Host", with: "box.example.com")(&lines)
            replace("Origin", with: "http://box.example.com")(&lines)
        }
        guard case .failure(let named) = Self.decide(rebinding) else { Issue.record("accepted"); return }
        #expect(named.origin?.verdict == .publicName)
        // Allowed explicitly: accepted.
        let allowed = OriginPolicy(allowed: [Array("http://evil.example".utf8)])
        #expect((try? Self.decide(foreign, origins: allowed).get()) != nil)
    }

    @Test("permessage-deflate is negotiated from the offer, and not when the policy disables it")
    func deflate() throws {
        let offering = try upgradeHead { lines in
            remove("origin")(&lines)
            add("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")(&lines)
            add("Expect: 100-continue")(&lines)
        }
        let agreement = try Self.decide(offering).get()
        #expect(agreement.deflate != nil && agreement.expectsContinue)
        var off = DeflatePolicy()
        off.enabled = false
        #expect(try Self.decide(offering, deflate: off).get().deflate == nil)
    }
}

extension UpgradeRefusal {
    init(error: HTTPError) { self.init(error: error, origin: nil) }
}
