import Testing
@testable import Lantern

@Suite("IPAddress and AddressRange")
struct IPAddressTests {
    @Test("addresses parse and print in canonical form", arguments: [
        ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("::", "::"), ("::1", "::1"), ("2001:DB8::1", "2001:db8::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("fe80::1:2:3:4", "fe80::1:2:3:4"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"),
        ("::ffff:192.0.2.1", "192.0.2.1"), ("::ffff:c000:201", "192.0.2.1"), ("64:ff9b::192.0.2.1", "64:ff9b::c000:201"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
    ])
    func canonical(text: String, printed: String) throws {
        let address = try #require(IPAddress(Array(text.utf8)))
        #expect(address.text == printed)
        #expect(IPAddress(Array(printed.utf8)) == address, "the printed form parses back")
    }

    @Test("not addresses", arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..3.4", "a.b.c.d", ":", ":::", "1:::2", "1::2::3",
        ":1", "1:", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8:9", "g::1", "[::1]", "::1%eth0", "1.2.3.4:80", " 1.2.3.4",
    ])
    func invalid(text: String) {
        #expect(IPAddress(Array(text.utf8)) == nil)
    }

    @Test("ranges", arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false), ("192.168.1.5", "192.168.1.5", true),
        ("192.168.1.5", "192.168.1.6", false), ("0.0.0.0/0", "203.0.113.9", true), ("0.0.0.0/0", "2001:db8::1", false),
        ("fd00::/8", "fd12::1", true), ("fd00::/8", "fe80::1", false), ("::1", "::1", true), ("::/0", "::ffff:1.2.3.4", true),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false), ("2001:db8::/33", "2001:db8:7fff::1", true),
        ("2001:db8::/33", "2001:db8:8000::1", false),
    ])
    func contains(range: String, address: String, expected: Bool) throws {
        let r = try #require(AddressRange(Array(range.utf8)))
        let a = try #require(IPAddress(Array(address.utf8)))
        #expect(r.contains(a) == expected)
    }

    @Test("bad ranges", arguments: ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/a", "/8", "10.0.0.0/8/8", "unix"])
    func badRanges(text: String) {
        #expect(AddressRange(Array(text.utf8)) == nil)
    }
}

@Suite("ClientAddress")
struct ClientAddressTests {
    static let proxy = PeerAddress.ip(IPAddress(ipv4: 10, 0, 0, 2), port: 40000)
    static let stranger = PeerAddress.ip(IPAddress(ipv4: 203, 0, 113, 7), port: 5000)

    static func trusted(_ items: String...) -> TrustedProxies {
        var t = TrustedProxies()
        for item in items {
            let added = t.add(Array(item.utf8))
            #expect(added)
        }
        return t
    }

    static func resolve(_ peer: PeerAddress, _ headers: [String], _ trusted: TrustedProxies) -> Result<String, HTTPError> {
        let head: HTTPRequestHead
        do { head = try upgradeHead { $0 += headers } } catch { return .failure(.badRequest("test head")) }
        return Result { () throws(HTTPError) in try ClientAddress.resolve(peer: peer, head: head, trusted: trusted).text }
    }

    @Test("headers from a peer that is not trusted change nothing")
    func spoofed() {
        let t = Self.trusted("10.0.0.0/8")
        #expect(Self.resolve(Self.stranger, ["X-Forwarded-For: 1.2.3.4"], t) == .success("203.0.113.7:5000"))
        #expect(Self.resolve(Self.stranger, ["Forwarded: for=1.2.3.4"], t) == .success("203.0.113.7:5000"))
        // Not even a malformed one is looked at.
        #expect(Self.resolve(Self.stranger, ["Forwarded: for=\"[::1"], t) == .success("203.0.113.7:5000"))
        #expect(Self.resolve(Self.stranger, ["X-Forwarded-For: 1.2.3.4"], TrustedProxies()) == .success("203.0.113.7:5000"))
        // The Unix socket is trusted only when asked for.
        #expect(Self.resolve(.unix, ["X-Forwarded-For: 1.2.3.4"], t) == .success("unix"))
        #expect(Self.resolve(.unix, ["X-Forwarded-For: 1.2.3.4"], Self.trusted("unix")) == .success("1.2.3.4"))
    }

    @Test("from a trusted proxy: the right-most hop that is not itself trusted", arguments: [
        (["X-Forwarded-For: 198.51.100.4"], "198.51.100.4"),
        // A client-written hop left of the real client is ignored.
        (["X-Forwarded-For: 6.6.6.6, 198.51.100.4"], "198.51.100.4"),
        // Several proxies: trusted hops are skipped from the right.
        (["X-Forwarded-For: 6.6.6.6, 198.51.100.4, 10.1.1.1, 10.0.0.9"], "198.51.100.4"),
        (["X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 198.51.100.4, 10.0.0.9"], "198.51.100.4"),
        // Only trusted hops: the left-most is the client.
        (["X-Forwarded-For: 10.9.9.9, 10.0.0.9"], "10.9.9.9"),
        (["X-Forwarded-For: 2001:db8::7, [2001:db8::8]:443"], "[2001:db8::8]:443"),
        (["X-Forwarded-For: 198.51.100.4:1234"], "198.51.100.4:1234"),
        (["Forwarded: for=192.0.2.60;proto=http;by=203.0.113.43"], "192.0.2.60"),
        (["Forwarded: for=\"[2001:db8:cafe::17]:4711\""], "[2001:db8:cafe::17]:4711"),
        (["Forwarded: for=6.6.6.6, for=192.0.2.60, for=10.0.0.7"], "192.0.2.60"),
        (["Forwarded: For=\"192.0.2.60:88\";proto=https"], "192.0.2.60:88"),
        (["Forwarded: for=unknown, for=10.0.0.7"], "unknown"),
        (["Forwarded: for=_hidden"], "_hidden"),
        (["Forwarded: proto=https"], "unknown"),
        // X-Forwarded-For (what proxies write) wins over a Forwarded they may pass through.
        (["X-Forwarded-For: 198.51.100.4", "Forwarded: for=6.6.6.6"], "198.51.100.4"),
        // IPv4-mapped hops are IPv4 (and trusted as such).
        (["X-Forwarded-For: ::ffff:198.51.100.4, ::ffff:10.0.0.9"], "198.51.100.4"),
    ] as [([String], String)])
    func chains(headers: [String], client: String) {
        #expect(Self.resolve(Self.proxy, headers, Self.trusted("10.0.0.0/8")) == .success(client))
    }

    @Test("no header from a trusted proxy: the proxy is the client")
    func noHeader() {
        #expect(Self.resolve(Self.proxy, [], Self.trusted("10.0.0.2")) == .success("10.0.0.2:40000"))
    }

    @Test("malformed headers from a trusted proxy are 400", arguments: [
        "X-Forwarded-For: 1.2.3", "X-Forwarded-For: 1.2.3.4, , 5.6.7.8", "X-Forwarded-For: example.com", "X-Forwarded-For: 1.2.3.4:99999",
        "Forwarded: for=[2001:db8::1]", "Forwarded: for=\"[2001:db8::1\"", "Forwarded: for=\"unterminated", "Forwarded: for",
        "Forwarded: for=1.2.3.4.5", "Forwarded: for=\"1.2.3.4:x\"", "Forwarded: for=_", "Forwarded: for=\"[1.2.3.4]\"",
    ])
    func malformed(header: String) {
        guard case .failure(let error) = Self.resolve(Self.proxy, [header], Self.trusted("10.0.0.0/8")) else {
            Issue.record("accepted: \(header)")
            return
        }
        #expect(error.status == 400)
    }

    @Test("--trust-proxy values")
    func trustValues() {
        var t = TrustedProxies()
        #expect(t.isEmpty)
        let added = [t.add(Array("unix".utf8)), t.add(Array("192.168.0.0/16".utf8)), t.add(Array("::1".utf8))]
        #expect(added == [true, true, true] && t.unixSocket && t.ranges.count == 2)
        let refused = [t.add(Array("proxy.lan".utf8)), t.add(Array("".utf8))]
        #expect(refused == [false, false])
        #expect(t.trusts(.ip(IPAddress(ipv4: 192, 168, 3, 4), port: nil)))
        #expect(!t.trusts(.name("unknown")))
    }
}
