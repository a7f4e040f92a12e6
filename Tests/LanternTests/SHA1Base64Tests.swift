import Testing
@testable import Lantern

@Suite("SHA1")
struct SHA1Tests {
    @Test("RFC 3174 / FIPS 180 vectors and padding boundaries", arguments: [
        ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "a49b2446a02c645bf419f995b67091253a04a259"),
        ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
        (String(repeating: "a", count: 55), "c1c8bbdc22796e28c0e15163d20899b65621d65a"),
        (String(repeating: "a", count: 56), "c2db330f6083854c99d4b5bfb6e8f29f201be699"),
        (String(repeating: "a", count: 63), "03f09f5b158a7a8cdad920bddc29b81c18a551f5"),
        (String(repeating: "a", count: 64), "0098ba824b5c16427bd7a1122a5a442a25ec644d"),
        (String(repeating: "a", count: 65), "11655326c708d70319be2610e8a57d9a5b959d3b"),
        (String(repeating: "a", count: 119), "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"),
        (String(repeating: "a", count: 120), "f34c1488385346a55709ba056ddd08280dd4c6d6"),
    ] as [(String, String)])
    func vectors(input: String, digest: String) {
        let out = SHA1.hash(Array(input.utf8))
        #expect(out.count == 20)
        #expect(hexString(out) == digest)
    }

    @Test("all byte values")
    func allBytes() {
        #expect(hexString(SHA1.hash((0...255).map { UInt8($0) })) == "4916d6bdb7f78e6803698cab32d1586ea457dfc8")
    }

    @Test("one million 'a'")
    func millionA() {
        #expect(hexString(SHA1.hash([UInt8](repeating: 0x61, count: 1_000_000))) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }
}

@Suite("Base64")
struct Base64Tests {
    @Test("RFC 4648 §10 vectors both ways", arguments: [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ] as [(String, String)])
    func rfcVectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == Array(encoded.utf8))
        #expect(Base64.decode(Array(encoded.utf8)) == Array(plain.utf8))
    }

    @Test("the whole alphabet")
    func alphabet() {
        let all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let decoded = Base64.decode(Array(all.utf8))
        #expect(decoded?.count == 48)
        if let decoded { #expect(Base64.encode(decoded) == Array(all.utf8)) }
        #expect(Base64.encode(hex("fb ff bf")) == Array("+/+/".utf8))
    }

    @Test("invalid input decodes to nil", arguments: [
        "Zg", "Zg=", "Zm9", "Zm9vY", "Z===", "====", "A===", "Zg=a", "Z=g=", "=Zg=", "Zm9vYg==Zm8=", "Zm9vYmFy====",
        "Zm9*", "Zm9 ", " Zm9", "Zm9\n", "Zm9-", "Zm9_", "Zm8=Zm8=", "Zmé",
    ])
    func invalid(text: String) {
        #expect(Base64.decode(Array(text.utf8)) == nil)
    }

    @Test("round trip for lengths 0...100")
    func roundTrip() {
        var rng = SeededGenerator(seed: 4648)
        for length in 0...100 {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let text = Base64.encode(data)
            #expect(text.count == (length + 2) / 3 * 4)
            #expect(Base64.decode(text) == data, "length \(length)")
        }
    }
}

@Suite("Handshake.acceptValue")
struct AcceptValueTests {
    @Test("RFC 6455 §1.3 and §4.2.2 sample key", arguments: [
        ("dGhlIHNhbXBsZSBub25jZQ==", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("AAECAwQFBgcICQoLDA0ODw==", "Bz3qJYTGdOe8gUSpLosEdiLKDrk="),
    ] as [(String, String)])
    func sample(key: String, accept: String) {
        #expect(Handshake.acceptValue(forKey: Array(key.utf8)) == Array(accept.utf8))
        #expect(Handshake.acceptValue(forKey: key.utf8) == Array(accept.utf8))
    }
}
