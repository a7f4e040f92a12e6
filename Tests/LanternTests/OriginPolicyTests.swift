import Testing
@testable import Lantern

/// `OriginPolicy`: which browser origins may open a WebSocket (RFC 6455 §10.2, cross-site
/// WebSocket hijacking). No Origin and same-host origins pass; the allow-list widens it.
@Suite struct OriginPolicyTests {
    private func bytes(_ s: String?) -> [UInt8]? { s.map { Array($0.utf8) } }

    private func permits(_ origin: String?, host: String?, allowed: [String] = []) -> Bool {
        OriginPolicy(allowed: allowed.map { Array($0.utf8) }).permits(origin: bytes(origin), host: bytes(host))
    }

    // MARK: No Origin

    @Test(arguments: [String?.none, "127.0.0.1:8080", "box.local"])
    func noOriginIsANonBrowserClientAndPasses(host: String?) {
        #expect(permits(nil, host: host))
        #expect(permits(nil, host: host, allowed: ["http://a.example"]))
    }

    // MARK: Same host

    /// (origin, Host header, same host?) as `sameHost` sees them (both already lower-cased).
    static let sameHostTable: [(String, String, Bool)] = [
        // Explicit ports on both sides.
        ("http://127.0.0.1:8080", "127.0.0.1:8080", true),
        ("http://box.local:8080", "box.local:8080", true),
        // No port on either side: both are the scheme's default.
        ("http://box.local", "box.local", true),
        ("https://box.local", "box.local", true),
        // Default ports written on one side only.
        ("http://box.local", "box.local:80", true),
        ("http://box.local:80", "box.local", true),
        // An empty port is the default too (RFC 3986 §6.2.3).
        ("http://box.local", "box.local:", true),
        ("http://box.local:", "box.local:80", true),
        ("https://box.local", "box.local:443", true),
        ("https://box.local:443", "box.local", true),
        // A default port is the scheme's, not any port.
        ("http://box.local", "box.local:443", false),
        ("https://box.local", "box.local:80", false),
        ("http://box.local", "box.local:8080", false),
        ("http://box.local:8080", "box.local", false),
        // Host carries no scheme: https to the same explicit port is the same host.
        ("https://box.local:8080", "box.local:8080", true),
        // IPv6 literals keep their brackets; the colons inside are not a port.
        ("http://[::1]:8080", "[::1]:8080", true),
        ("http://[::1]", "[::1]", true),
        ("http://[::1]", "[::1]:80", true),
        ("http://[fe80::1]:8080", "[fe80::1]:8080", true),
        // RFC 6874 zones: the same zone is the same host; another zone is not.
        ("http://[fe80::1%25eth0]:8080", "[fe80::1%25eth0]:8080", true),
        ("http://[fe80::1%25eth0]:8080", "[fe80::1%25eth1]:8080", false),
        ("http://[fe80::1%25eth0]:8080", "[fe80::1]:8080", false),
        ("http://[::ffff:192.168.1.5]:8080", "[::ffff:192.168.1.5]:8080", true),
        ("http://[::1]:8080", "[::1]:9090", false),
        ("http://[::1]:8080", "[::2]:8080", false),
        ("http://[::1]:8080", "127.0.0.1:8080", false),
        // Different host or port.
        ("http://evil.example:8080", "127.0.0.1:8080", false),
        ("http://127.0.0.1:9999", "127.0.0.1:8080", false),
        ("http://box.local.evil.example", "box.local", false),
        ("http://evil.example@box.local", "box.local", false),
        ("http://box", "box.local", false),
        // Schemes without a web origin, opaque and malformed origins.
        ("ws://127.0.0.1:8080", "127.0.0.1:8080", false),
        ("ftp://box.local", "box.local", false),
        ("file://", "box.local", false),
        ("null", "box.local", false),
        ("127.0.0.1:8080", "127.0.0.1:8080", false),
        ("http://", "", false),
        ("http://:8080", ":8080", false),
        ("http://box.local/", "box.local", false),
        ("http://box.local:80x", "box.local:80", false),
        ("", "box.local", false),
    ]

    @Test(arguments: sameHostTable)
    func sameHost(origin: String, host: String, expected: Bool) {
        let authority = Authority(Array(host.utf8)[...])
        #expect(authority.map { OriginPolicy.sameHost(origin: Array(origin.utf8), host: $0) } ?? false == expected)
        // permits() without an allow-list is exactly the same-host rule once an Origin is present.
        #expect(permits(origin, host: host) == expected)
    }

    // MARK: DNS rebinding

    /// A page from a name its author controls in public DNS, re-pointed at the box, is "same
    /// host" with itself: same-host passes only for names public DNS cannot hand out.
    @Test("same host under a local or a public name", arguments: [
        ("127.0.0.1:8080", OriginVerdict.allowed),
        ("192.168.1.5:8080", .allowed),
        ("[fe80::1]:8080", .allowed),
        ("box:8080", .allowed),
        ("localhost:8080", .allowed),
        ("box.local:8080", .allowed),
        ("box.lan:8080", .allowed),
        ("box.home:8080", .allowed),
        ("box.home.arpa:8080", .allowed),
        ("pi.internal:8080", .allowed),
        ("box.localdomain:8080", .allowed),
        ("app.localhost:8080", .allowed),
        ("box.lan.:8080", .allowed),
        ("evil.example:8080", .publicName),
        ("box.example.com:8080", .publicName),
        ("1.2.3.4.nip.io:8080", .publicName),
        ("192.168.1.500.example:8080", .publicName),
        ("local:8080", .allowed),
        ("evil.local.example:8080", .publicName),
        ("evillan:8080", .allowed),
        ("evil-lan.com:8080", .publicName),
    ] as [(String, OriginVerdict)])
    func rebinding(host: String, expected: OriginVerdict) {
        let policy = OriginPolicy()
        #expect(policy.verdict(origin: bytes("http://" + host), host: bytes(host)) == expected)
        // Naming the origin lets any name through.
        let named = OriginPolicy(allowed: [Array(("http://" + host).utf8)])
        #expect(named.verdict(origin: bytes("http://" + host), host: bytes(host)) == .allowed)
        #expect(policy.verdict(origin: bytes("http://other.example"), host: bytes(host)) == .foreign)
    }

    @Test func originWithoutHostHeaderIsRefused() {
        #expect(!permits("http://127.0.0.1:8080", host: nil))
        #expect(permits("http://a.example", host: nil, allowed: ["http://a.example"]))
        #expect(permits("http://a.example", host: nil, allowed: ["*"]))
    }

    @Test func nullOriginIsRefusedUnlessListed() {
        // Sandboxed iframes and file: pages send "null": never the same host.
        #expect(!permits("null", host: "127.0.0.1:8080"))
        #expect(!permits("null", host: "127.0.0.1:8080", allowed: ["http://a.example"]))
        #expect(permits("null", host: "127.0.0.1:8080", allowed: ["*"]))
        #expect(permits("null", host: "127.0.0.1:8080", allowed: ["null"]))
    }

    // MARK: Allow-list

    @Test func allowListMatchesExactly() {
        let allowed = ["http://a.example", "https://b.example:8443"]
        #expect(permits("http://a.example", host: "box:8080", allowed: allowed))
        #expect(permits("https://b.example:8443", host: "box:8080", allowed: allowed))
        // Exact strings: no prefix, suffix, other scheme, other port, path or sub-domain.
        for other in ["http://a.example.evil", "http://evil.a.example", "https://a.example", "http://a.example:8080",
                      "http://a.example/", "https://b.example", "http://b.example:8443", "http://c.example", "http://a.exampl"] {
            #expect(!permits(other, host: "box:8080", allowed: allowed), "\(other)")
        }
        // Same host still passes alongside a list.
        #expect(permits("http://box:8080", host: "box:8080", allowed: allowed))
    }

    @Test func starAllowsEveryOrigin() {
        for origin in ["http://a.example", "https://evil.example:1", "null", "chrome-extension://abc", "x"] {
            #expect(permits(origin, host: "box:8080", allowed: ["*"]), "\(origin)")
            #expect(permits(origin, host: nil, allowed: ["http://z.example", "*"]), "\(origin)")
        }
    }

    // MARK: Case and whitespace

    @Test func comparisonIgnoresCase() {
        #expect(permits("HTTP://Box.LOCAL:8080", host: "box.local:8080"))
        #expect(permits("http://box.local:8080", host: "BOX.Local:8080"))
        #expect(permits("HTTPS://[FE80::1]", host: "[fe80::1]:443"))
        #expect(permits("http://A.EXAMPLE", host: "box", allowed: ["http://a.example"]))
        #expect(permits("http://a.example", host: "box", allowed: ["HTTP://A.Example"]))
        #expect(OriginPolicy(allowed: [Array("HTTP://A.Example".utf8)]).allowed == [Array("http://a.example".utf8)])
    }

    @Test func surroundingWhitespaceOfTheOriginIsIgnored() {
        #expect(permits(" http://box.local:8080\t", host: "box.local:8080"))
        #expect(permits("  http://a.example ", host: "box", allowed: ["http://a.example"]))
    }
}
