import Testing
@testable import Lantern

/// The secret the tests configure: 32 characters of the accepted alphabet.
let testSecret = "Ab0-_.~Zz9yXwVuTsRqPoNmLkJiHgFeD"

func testToken() throws -> AccessToken { try AccessToken(fileContent: Array(testSecret.utf8)) }

@Suite("AccessToken")
struct AccessTokenTests {
    @Test("a token file: trailing white space and newlines dropped, 16...256 bytes of A-Z a-z 0-9 - . _ ~")
    func fileContent() throws {
        let token = try AccessToken(fileContent: Array((testSecret + " \t\r\n\n").utf8))
        #expect(token.matches(Array(testSecret.utf8)))
        #expect(throws: AccessToken.Invalid.tooShort(15)) { try AccessToken(fileContent: Array(String(repeating: "a", count: 15).utf8)) }
        #expect((try? AccessToken(fileContent: Array(String(repeating: "a", count: 16).utf8))) != nil)
        #expect((try? AccessToken(fileContent: Array(String(repeating: "a", count: 256).utf8))) != nil)
        #expect(throws: AccessToken.Invalid.tooLong(257)) { try AccessToken(fileContent: Array(String(repeating: "a", count: 257).utf8)) }
        #expect(throws: AccessToken.Invalid.tooShort(0)) { try AccessToken(fileContent: Array("\n".utf8)) }
        // Leading white space, inner spaces, base64's + / =, quotes and non-ASCII are refused.
        for bad in [" " + testSecret, "abcdefgh abcdefgh", "abcdefgh+abcdefgh", "abcdefgh/abcdefgh", "abcdefghabcdefgh==", "abcdefgh\"abcdefgh", "abcdefghäabcdefgh"] {
            #expect(throws: AccessToken.Invalid.self) { try AccessToken(fileContent: Array(bad.utf8)) }
        }
        #expect(throws: AccessToken.Invalid.badCharacter(at: 8)) { try AccessToken(fileContent: Array("abcdefgh+abcdefgh".utf8)) }
        // The message says what is wrong, never the token.
        let message = AccessToken.Invalid.badCharacter(at: 8).message
        #expect(message.contains("byte 9") && !message.contains("abcdefgh"))
    }

    @Test("equal, different, prefix, longer, empty, non-ASCII and over-long candidates")
    func candidates() throws {
        let token = try testToken()
        let secret = Array(testSecret.utf8)
        #expect(token.verdict(secret) == .granted)
        #expect(token.verdict(nil) == .missing)
        var flipped = secret
        flipped[flipped.count - 1] ^= 1
        #expect(token.verdict(flipped) == .wrong)
        #expect(token.verdict(Array(secret.dropLast())) == .wrong)
        #expect(token.verdict(secret + [UInt8(ascii: "x")]) == .wrong)
        #expect(token.verdict([]) == .wrong)
        #expect(token.verdict(Array("Ab0-_.~Zz9yXwVuTsRqPoNmLkJiHgFé".utf8)) == .wrong)
        #expect(token.verdict(secret + [0xFF, 0xFE]) == .wrong)
        #expect(token.verdict(Array(repeating: UInt8(ascii: "a"), count: AccessToken.maxCandidateBytes)) == .wrong)
        #expect(token.verdict(Array(repeating: UInt8(ascii: "a"), count: AccessToken.maxCandidateBytes + 1)) == .tooLong)
        #expect(token.verdict(secret + Array(repeating: UInt8(ascii: "a"), count: 2000)) == .tooLong)
        #expect(AccessVerdict.wrong.isFailedGuess && AccessVerdict.tooLong.isFailedGuess)
        #expect(!AccessVerdict.missing.isFailedGuess && !AccessVerdict.granted.isFailedGuess)
    }

    @Test("the comparison visits every byte, wherever the first difference is")
    func constantTime() {
        let a = SHA1.hash(Array("secret".utf8))
        for position in [0, 1, 10, 19] {
            var b = a
            b[position] ^= 0x80
            var visited: [Int] = []
            #expect(!AccessToken.constantTimeEqual(a, b) { visited.append($0) })
            #expect(visited == Array(0..<20), "stopped early for a difference at \(position)")
        }
        var visited = 0
        #expect(AccessToken.constantTimeEqual(a, a) { _ in visited += 1 })
        #expect(visited == 20)
        // Digests of different lengths never compare equal (cannot happen: both are SHA-1).
        #expect(!AccessToken.constantTimeEqual(a, Array(a.prefix(19))))
    }
}

@Suite("TokenOffer")
struct TokenOfferTests {
    static func offer(_ lines: [String]) throws -> TokenOffer {
        TokenOffer(try upgradeHead { all in
            remove("Sec-WebSocket-Protocol")(&all)
            all.append(contentsOf: lines)
        })
    }

    @Test("the token from a Sec-WebSocket-Protocol item, in any field and position of the comma lists")
    func subprotocol() throws {
        let plain = try Self.offer(["Sec-WebSocket-Protocol: lantern, lantern.token.\(testSecret)"])
        #expect(plain.candidate == Array(testSecret.utf8) && plain.offersLantern)
        let split = try Self.offer(["Sec-WebSocket-Protocol: chat", "Sec-WebSocket-Protocol: lantern.token.abc ,lantern"])
        #expect(split.candidate == Array("abc".utf8) && split.offersLantern)
        let alone = try Self.offer(["Sec-WebSocket-Protocol: lantern.token.abc"])
        #expect(alone.candidate == Array("abc".utf8) && !alone.offersLantern)
        // Subprotocol names are case-sensitive; an empty token is an (empty, wrong) candidate.
        let cased = try Self.offer(["Sec-WebSocket-Protocol: Lantern, LANTERN.TOKEN.abc"])
        #expect(cased.candidate == nil && !cased.offersLantern)
        #expect(try Self.offer(["Sec-WebSocket-Protocol: lantern.token."]).candidate == [])
        let none = try Self.offer([])
        #expect(none.candidate == nil && !none.offersLantern)
    }

    @Test("the token from Authorization: Bearer, the scheme in any case (RFC 6750 §2.1)")
    func bearer() throws {
        for field in ["Authorization: Bearer \(testSecret)", "Authorization: bearer \(testSecret)", "Authorization: BEARER  \(testSecret) "] {
            #expect(try Self.offer([field]).candidate == Array(testSecret.utf8), "\(field)")
        }
        for field in ["Authorization: Basic dXNlcjpwYXNz", "Authorization: Bearer", "Authorization: Bearer ", "Authorization: Bearerabc"] {
            #expect(try Self.offer([field]).candidate == nil, "\(field)")
        }
        // A subprotocol item wins over a Bearer credential.
        let both = try Self.offer(["Authorization: Bearer xyz", "Sec-WebSocket-Protocol: lantern.token.abc"])
        #expect(both.candidate == Array("abc".utf8))
    }
}

@Suite("UpgradeDecision with an access token")
struct UpgradeAccessTests {
    static func decide(_ lines: [String], retryAfterMs: Int64? = nil) throws -> Result<UpgradeAgreement, UpgradeRefusal> {
        let head = try upgradeHead { all in
            remove("origin")(&all)
            remove("Sec-WebSocket-Protocol")(&all)
            all.append(contentsOf: lines)
        }
        let access = AccessCheck(token: try testToken(), retryAfterMs: retryAfterMs)
        return Result { () throws(UpgradeRefusal) in try UpgradeDecision.accept(head, origins: OriginPolicy(), deflate: DeflatePolicy(), access: access) }
    }

    @Test("right token by either path: accepted, selecting lantern only when it was offered")
    func granted() throws {
        let viaProtocol = try Self.decide(["Sec-WebSocket-Protocol: lantern, lantern.token.\(testSecret)"]).get()
        #expect(viaProtocol.selectsLantern)
        let viaBearer = try Self.decide(["Authorization: Bearer \(testSecret)"]).get()
        #expect(!viaBearer.selectsLantern)
    }

    @Test("missing, wrong and over-long tokens: 403 with the verdict for the log and the limiter")
    func refused() throws {
        #expect(try Self.decide([]) == .failure(UpgradeRefusal(error: .accessDenied("access token required"), origin: nil, access: .missing)))
        #expect(try Self.decide(["Authorization: Bearer nope"]) == .failure(UpgradeRefusal(error: .accessDenied("access token wrong"), origin: nil, access: .wrong)))
        let long = String(repeating: "a", count: 1025)
        #expect(try Self.decide(["Sec-WebSocket-Protocol: lantern.token.\(long)"]) == .failure(UpgradeRefusal(error: .accessDenied("access token wrong"), origin: nil, access: .tooLong)))
        guard case .failure(let refusal) = try Self.decide([]) else { return }
        #expect(refusal.error.status == 403)
    }

    @Test("an address held back gets 429 with Retry-After in whole seconds, even with the right token")
    func limited() throws {
        guard case .failure(let refusal) = try Self.decide(["Authorization: Bearer \(testSecret)"], retryAfterMs: 9_001) else {
            Issue.record("accepted while limited"); return
        }
        #expect(refusal.error.status == 429 && refusal.access == nil)
        #expect(refusal.error.headerFields.contains { $0.name.utf8Bytes == Array("Retry-After".utf8) && $0.value == "10" })
    }

    @Test("/metrics: 401 with a Bearer challenge when the credential is missing or wrong")
    func metrics() throws {
        let check = AccessCheck(token: try testToken())
        #expect(check.refusal(Array(testSecret.utf8), upgrade: false) == nil)
        let missing = try #require(check.refusal(nil, upgrade: false))
        #expect(missing.error == .unauthorized("access token required") && missing.verdict == .missing)
        #expect(missing.error.headerFields.contains { $0.value == "Bearer realm=\"lantern\"" })
        #expect(check.refusal(Array("x".utf8), upgrade: false)?.error.status == 401)
    }

    @Test("without a token configured nothing changes, except that an offered lantern is selected")
    func open() throws {
        let head = try upgradeHead { remove("origin")(&$0); replace("Sec-WebSocket-Protocol", with: "lantern")(&$0) }
        let agreement = try UpgradeDecision.accept(head, origins: OriginPolicy(), deflate: DeflatePolicy())
        #expect(agreement.selectsLantern)
        // The RFC sample offers chat, superchat: still nothing selected.
        #expect(try !UpgradeDecision.accept(try upgradeHead(remove("origin")), origins: OriginPolicy(), deflate: DeflatePolicy()).selectsLantern)
    }
}

@Suite("FailureLimiter")
struct FailureLimiterTests {
    static let a = Array("192.0.2.1".utf8), b = Array("192.0.2.2".utf8)

    @Test("5 failures pass, the 6th attempt waits 10 s, then one more every 10 s", arguments: [0, (1 << 31) + 5, (1 << 32) + 7, Int64.max / 4] as [Int64])
    func burstThenRate(start: Int64) {
        var limiter = FailureLimiter()
        for i in 0..<5 {
            #expect(limiter.retryAfterMs(Self.a, now: start + Int64(i)) == nil)
            limiter.recordFailure(Self.a, now: start + Int64(i))
        }
        #expect(limiter.retryAfterMs(Self.a, now: start + 5) == 9_995)  // 10 s after the first failure
        #expect(FailureLimiter.retryAfterSeconds(10_000 - 5) == 10 && FailureLimiter.retryAfterSeconds(1) == 1)
        // Another address is not affected.
        #expect(limiter.retryAfterMs(Self.b, now: start + 5) == nil)
        // 10 s after the first failure one more try is allowed, and after it fails, 10 s more.
        #expect(limiter.retryAfterMs(Self.a, now: start + 10_000) == nil)
        limiter.recordFailure(Self.a, now: start + 10_000)
        #expect(limiter.retryAfterMs(Self.a, now: start + 10_001) == 9_999)
        // After 50 s of quiet the whole burst is back.
        let later = start + 70_000
        for i in 0..<5 {
            #expect(limiter.retryAfterMs(Self.a, now: later + Int64(i)) == nil)
            limiter.recordFailure(Self.a, now: later + Int64(i))
        }
        #expect(limiter.retryAfterMs(Self.a, now: later + 5) != nil)
    }

    @Test("failures while held back do not push the wait beyond one burst")
    func debtIsCapped() {
        var limiter = FailureLimiter(burst: 2, intervalMs: 1000)
        for _ in 0..<100 { limiter.recordFailure(Self.a, now: 0) }
        #expect(limiter.retryAfterMs(Self.a, now: 0) == 1000)
        #expect(limiter.retryAfterMs(Self.a, now: 1000) == nil)
    }

    @Test("the table never holds more than its capacity: paid-off addresses go first, then the stalest")
    func bounded() {
        var limiter = FailureLimiter(burst: 1, intervalMs: 1000, capacity: 4)
        for i in 0..<4 { limiter.recordFailure([UInt8(i)], now: Int64(i) * 100) }
        #expect(limiter.count == 4)
        limiter.recordFailure([9], now: 400)  // all still owe: the stalest ([0]) goes
        #expect(limiter.count == 4)
        #expect(limiter.retryAfterMs([0], now: 400) == nil)
        #expect(limiter.retryAfterMs([1], now: 400) != nil)
        // A flood of addresses long after: the paid-off ones are dropped, the count stays bounded.
        for i in 0..<1000 { limiter.recordFailure([UInt8(i & 0xFF), UInt8(i >> 8)], now: 100_000 + Int64(i)) }
        #expect(limiter.count == 4)
    }
}

@Suite("--access-token-file")
struct AccessTokenFlagTests {
    @Test("the flag and LANTERN_ACCESS_TOKEN_FILE name the file; the flag wins; an empty path is refused")
    func flag() {
        #expect(runConfiguration(parseCommandLine(["--access-token-file", "/etc/lantern/token"]))?.accessTokenFile == "/etc/lantern/token")
        #expect(runConfiguration(parseCommandLine([], ["LANTERN_ACCESS_TOKEN_FILE": "/a"]))?.accessTokenFile == "/a")
        #expect(runConfiguration(parseCommandLine(["--access-token-file=/b"], ["LANTERN_ACCESS_TOKEN_FILE": "/a"]))?.accessTokenFile == "/b")
        #expect(runConfiguration(parseCommandLine([]))?.accessTokenFile == nil)
        guard case .usageError = parseCommandLine(["--access-token-file", ""]) else { Issue.record("empty path accepted"); return }
    }
}
