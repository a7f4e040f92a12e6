import Testing
@testable import Lantern

/// `AcceptEncoding` (RFC 9110 §12.5.3): whether the gzip variant may be sent.
@Suite("AcceptEncoding")
struct AcceptEncodingTests {
    @Test("gzip allowed or not", arguments: [
        // No field: identity only.
        ([], false), ([""], false),
        // Listed, in any case, with or without a positive q.
        (["gzip"], true), (["GZIP"], true), (["x-gzip"], true), (["X-Gzip"], true), (["deflate, gzip, br"], true),
        (["gzip;q=1"], true), (["gzip;q=0.001"], true), ([" gzip ; Q=0.5 "], true), (["gzip;level=1;q=0.5"], true),
        // Refused by q=0 in any spelling.
        (["gzip;q=0"], false), (["gzip; q=0.000"], false), (["x-gzip;q=0."], false),
        // Other codings only.
        (["deflate, br"], false), (["identity"], false), (["gzipx"], false), (["gz"], false),
        // The wildcard covers gzip only when gzip is not listed.
        (["*"], true), (["*;q=0"], false), (["br, *;q=0.1"], true),
        (["gzip;q=0, *"], false), (["*, gzip;q=0"], false), (["gzip, *;q=0"], true),
        // An item with a malformed q is ignored, as if absent.
        (["gzip;q=abc"], false), (["gzip;q=2"], false), (["gzip;q=1.0001"], false), (["gzip;q=abc, *"], true),
        (["gzip;q=", "*;q=0"], false),
        // Several field lines are one list (RFC 9110 §5.3).
        (["deflate", "gzip"], true), (["gzip;q=0", "*"], false),
        // One acceptable listing is enough.
        (["gzip;q=0, gzip"], true),
    ] as [([String], Bool)])
    func allowsGzip(values: [String], expected: Bool) {
        #expect(AcceptEncoding.allowsGzip(values.map { Array($0.utf8) }) == expected)
    }

    /// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 9110 §12.4.2), in thousandths.
    @Test("qvalue", arguments: [
        ("0", 0), ("1", 1000), ("0.", 0), ("1.", 1000), ("0.5", 500), ("0.05", 50), ("0.123", 123), ("0.001", 1),
        ("1.0", 1000), ("1.000", 1000), ("0.999", 999),
        ("", nil), ("2", nil), ("01", nil), (".5", nil), ("0,5", nil), ("0.1234", nil), ("1.001", nil), ("1.5", nil),
        ("0.5a", nil), ("0.-1", nil), ("+1", nil), ("-0", nil), (" 1", nil), ("1 ", nil),
    ] as [(String, Int?)])
    func qValue(text: String, expected: Int?) {
        #expect(AcceptEncoding.qValue(Array(text.utf8)) == expected)
    }
}
