/// The optional shared secret (`--access-token-file`) and its constant-time check.
///
/// Only SHA-1 of the secret is kept; a candidate is hashed too and the two 20-byte digests are
/// compared with every byte visited, so the time taken says nothing about how much of the
/// candidate matched, nor (the digests being of fixed size) about the secret's length. SHA-1 is
/// used here as a fixed-width transform for the comparison, not for its collision resistance:
/// a second preimage of a 96+ bit random secret is out of reach.
public struct AccessToken: Sendable {
    /// The shortest secret accepted: 16 characters of 64 kinds carry 96 bits.
    public static let minBytes = 16
    /// The longest secret accepted, so it fits a header and a URL fragment comfortably.
    public static let maxBytes = 256
    /// A longer candidate is refused without hashing: no client of ours sends one, and hashing
    /// a header-sized blob for every guess would make guessing cost us more than the guesser.
    public static let maxCandidateBytes = 1024

    private let digest: [UInt8]

    /// Why a token file's content is not a usable secret (the message never shows the secret).
    public enum Invalid: Error, Equatable, Sendable {
        case tooShort(Int)
        case tooLong(Int)
        /// The offset of the first byte outside `A-Z a-z 0-9 - . _ ~`.
        case badCharacter(at: Int)

        public var message: String {
            switch self {
            case .tooShort(let n): return "the token is \(n) bytes; at least \(AccessToken.minBytes) are needed"
            case .tooLong(let n): return "the token is \(n) bytes; at most \(AccessToken.maxBytes) are allowed"
            case .badCharacter(let i):
                return "byte \(i + 1) of the token is not one of A-Z a-z 0-9 - . _ ~ (make one with: head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
            }
        }
    }

    /// The secret from a token file's content: trailing white space and newlines are dropped,
    /// and what remains must be 16...256 bytes of `A-Z a-z 0-9 - . _ ~` (RFC 3986 unreserved:
    /// safe in a URL fragment, an HTTP token (RFC 9110 §5.6.2) and a Bearer credential).
    public init(fileContent: [UInt8]) throws(Invalid) {
        var secret = fileContent[...]
        while let last = secret.last, last == 0x20 || last == 0x09 || last == 0x0A || last == 0x0D { secret = secret.dropLast() }
        if let bad = secret.firstIndex(where: { !AccessToken.isSecretByte($0) }) {
            throw .badCharacter(at: bad - secret.startIndex)
        }
        guard secret.count >= AccessToken.minBytes else { throw .tooShort(secret.count) }
        guard secret.count <= AccessToken.maxBytes else { throw .tooLong(secret.count) }
        digest = SHA1.hash(Array(secret))
    }

    /// Whether `candidate` is the secret. Over-long candidates are refused before hashing;
    /// everything else costs one SHA-1 and one full 20-byte comparison.
    public func matches<C: Collection>(_ candidate: C) -> Bool where C.Element == UInt8 {
        guard candidate.count <= AccessToken.maxCandidateBytes else { return false }
        return AccessToken.constantTimeEqual(SHA1.hash(Array(candidate)), digest)
    }

    /// What a request's candidate (nil: none offered) amounts to.
    public func verdict(_ candidate: [UInt8]?) -> AccessVerdict {
        guard let candidate else { return .missing }
        if candidate.count > AccessToken.maxCandidateBytes { return .tooLong }
        return matches(candidate) ? .granted : .wrong
    }

    /// Compares every byte of two equal-length digests, whatever the first difference: the
    /// differences are OR-ed together and looked at once at the end.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8], visited: ((Int) -> Void)? = nil) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count {
            difference |= a[i] ^ b[i]
            visited?(i)
        }
        return difference == 0
    }

    /// `A-Z a-z 0-9 - . _ ~`: base64url and RFC 3986 unreserved characters.
    public static func isSecretByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): return true
        default: return false
        }
    }
}

/// The outcome of an access check; all but `.granted` are refusals, and the log names them.
public enum AccessVerdict: Equatable, Sendable {
    case granted
    /// No token offered: not a guess, so it is not counted against the address.
    case missing
    case wrong
    /// Longer than `AccessToken.maxCandidateBytes`: refused unhashed, counted as a wrong guess.
    case tooLong

    /// A guess that counts against the address's failure budget.
    public var isFailedGuess: Bool { self == .wrong || self == .tooLong }

    /// For the log line: what was wrong, never the token.
    public var name: StaticString {
        switch self {
        case .granted: return "granted"
        case .missing: return "missing"
        case .wrong: return "wrong"
        case .tooLong: return "too long"
        }
    }
}

/// One request's access check: the configured token and whether the client's address may try
/// at all right now (the caller asks its `FailureLimiter` first; the check stays pure).
public struct AccessCheck: Sendable {
    public var token: AccessToken
    /// Milliseconds until the address may try again; nil: it may try now.
    public var retryAfterMs: Int64?

    public init(token: AccessToken, retryAfterMs: Int64? = nil) {
        self.token = token
        self.retryAfterMs = retryAfterMs
    }

    /// nil when access is granted; else the refusal and, unless the address was held back
    /// before its token was looked at, the verdict (what to log and count).
    /// `upgrade`: 403 for a WebSocket upgrade, else 401 with a Bearer challenge (RFC 6750 §3).
    public func refusal(_ candidate: [UInt8]?, upgrade: Bool) -> (error: HTTPError, verdict: AccessVerdict?)? {
        if let wait = retryAfterMs {
            return (.tooManyRequests(retryAfterSeconds: FailureLimiter.retryAfterSeconds(wait)), nil)
        }
        let verdict = token.verdict(candidate)
        switch (verdict, upgrade) {
        case (.granted, _): return nil
        case (.missing, true): return (.accessDenied("access token required"), verdict)
        case (.missing, false): return (.unauthorized("access token required"), verdict)
        case (_, true): return (.accessDenied("access token wrong"), verdict)
        case (_, false): return (.unauthorized("access token wrong"), verdict)
        }
    }
}

/// What a request head offers as the access token, and which subprotocol the 101 may select.
public struct TokenOffer: Equatable, Sendable {
    /// The subprotocol item the page sends its token in: `lantern.token.<TOKEN>`.
    public static let protocolPrefix: StaticString = "lantern.token."
    /// The subprotocol the page offers beside it, selected in the 101 when offered.
    public static let lanternProtocol: StaticString = "lantern"

    /// The first candidate found (a `lantern.token.` item first, else a Bearer credential).
    public var candidate: [UInt8]?
    /// Whether `lantern` was among the offered subprotocols.
    public var offersLantern: Bool

    /// Reads (a) every `Sec-WebSocket-Protocol` field, each a comma list (RFC 6455 §4.2.1 item
    /// 8, §11.3.4), for `lantern` and `lantern.token.<TOKEN>`; and (b) `Authorization: Bearer
    /// <TOKEN>`, the scheme compared case-insensitively (RFC 6750 §2.1, RFC 9110 §11.1).
    public init(_ head: HTTPRequestHead) {
        candidate = nil
        offersLantern = false
        let prefix = TokenOffer.protocolPrefix.utf8Bytes
        let lantern = TokenOffer.lanternProtocol.utf8Bytes
        for value in head.values("sec-websocket-protocol") {
            for rawItem in value.split(separator: UInt8(ascii: ",")) {
                let item = ASCII.trimmed(rawItem)
                // Subprotocol names are case-sensitive (RFC 6455 §4.1 item 10 compares them as is).
                if item.elementsEqual(lantern) { offersLantern = true }
                if candidate == nil, item.count >= prefix.count, item.prefix(prefix.count).elementsEqual(prefix) {
                    candidate = Array(item.dropFirst(prefix.count))
                }
            }
        }
        if candidate == nil { candidate = TokenOffer.bearer(head.values("authorization")) }
    }

    /// The credential of the first `Authorization: Bearer ...` field (RFC 6750 §2.1: `Bearer`
    /// and one or more spaces, then the token).
    static func bearer(_ fields: [[UInt8]]) -> [UInt8]? {
        for field in fields {
            let value = ASCII.trimmed(field)
            guard value.count > 7, ASCII.equalsIgnoringCase(value.prefix(6), "bearer"), value.dropFirst(6).first == 0x20 else { continue }
            let credential = ASCII.trimmed(value.dropFirst(7))
            return credential.isEmpty ? nil : Array(credential)
        }
        return nil
    }
}
