import Testing
@testable import Lantern

@Suite("HTTPResponse")
struct HTTPResponseTests {
    private func response(_ headers: [String], body: String = "ok") -> [UInt8] {
        Array(("HTTP/1.1 200 OK\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n" + body).utf8)
    }

    /// RFC 9112 §9.6 and §9.3: the client learns from the response whether the connection
    /// stays open; the field goes at the end of the head, the body is untouched.
    @Test("the Connection field announces what happens next", arguments: [
        (true, 1, "Connection: close"),
        (true, 0, "Connection: close"),
        (false, 0, "Connection: keep-alive"),
    ] as [(Bool, Int, String)])
    func announces(closing: Bool, minorVersion: Int, field: String) {
        let plain = response(["Content-Length: 2"])
        let announced = HTTPResponse.announcing(plain, closing: closing, minorVersion: minorVersion)
        #expect(announced == response(["Content-Length: 2", field]))
    }

    @Test func persistentHTTP11AndExistingFieldsAreLeftAlone() {
        let plain = response(["Content-Length: 2"])
        #expect(HTTPResponse.announcing(plain, closing: false, minorVersion: 1) == plain)
        let upgrade = response(["connection: Upgrade"], body: "")
        #expect(HTTPResponse.announcing(upgrade, closing: true, minorVersion: 1) == upgrade)
        let error = HTTPResponse.refusal(.badRequest("bad"))
        #expect(HTTPResponse.announcing(error, closing: true, minorVersion: 0) == error)
    }
}
