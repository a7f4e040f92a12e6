/// libFuzzer target "http": HTTPRequestHead.parse (maxBytes 8192) on the whole input and on growing
/// prefixes, then Handshake.validate on every parsed head. The input is the raw request bytes.

private let maxBytes = 8192

private enum Parsed: Equatable {
    case needMore
    case head(method: [UInt8], target: [UInt8], minor: Int, headers: [[UInt8]], end: Int)
    case error(status: Int, message: [UInt8])
}

private func parse(_ bytes: UnsafeRawBufferPointer, maxBytes: Int) -> (Parsed, HTTPRequestHead?) {
    do throws(HTTPError) {
        guard let (head, end) = try HTTPRequestHead.parse(bytes, maxBytes: maxBytes) else { return (.needMore, nil) }
        // Names and values joined with a 0 byte (which neither may contain) for comparison.
        let headers = head.headers.map { $0.name + [0] + $0.value }
        return (.head(method: head.method, target: head.target, minor: head.minorVersion, headers: headers, end: end), head)
    } catch {
        return (.error(status: error.status, message: error.message.utf8Bytes), nil)
    }
}

/// The framing the parser must follow (RFC 9112 §2.2), written out plainly: CRLFs before the
/// request line are skipped; then, within the first `limit` bytes, a LF without its CR is refused
/// and otherwise the head ends just past the first CRLFCRLF.
private enum Framing: Equatable { case incomplete, bareLineFeed(at: Int), end(Int) }

private func framing(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Framing {
    var skip = 0
    while skip + 1 < bytes.count && bytes[skip] == 0x0D && bytes[skip + 1] == 0x0A { skip += 2 }
    var i = skip
    while i < min(bytes.count, limit) {
        if bytes[i] == 0x0A {
            if i == skip || bytes[i - 1] != 0x0D { return .bareLineFeed(at: i) }
            if i - skip >= 3 && bytes[i - 2] == 0x0A && bytes[i - 3] == 0x0D { return .end(i + 1) }
        }
        i += 1
    }
    return .incomplete
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    // A private copy of exactly `size` bytes, so ASan flags any read past the end.
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    defer { copy.deallocate() }
    copy.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))
    let input = UnsafeRawBufferPointer(copy)

    let (whole, head) = parse(input, maxBytes: maxBytes)
    let frame = framing(input, limit: maxBytes)
    switch whole {
    case .needMore:
        check(frame == .incomplete && size < maxBytes, "nil although the head is complete, refused or too large")
    case .error(let status, let message):
        switch frame {
        case .incomplete: check(status == 431 && size >= maxBytes, "\(status) although the head is only incomplete")
        case .bareLineFeed: check(status == 400 && message == Array("bare LF in request head".utf8), "bare LF gave \(status)")
        case .end: check(status == 400 || status == 505, "unexpected status \(status)")
        }
    case .head(let method, let target, let minor, let headers, let at):
        check(frame == .end(at), "head length is not just past the first CRLFCRLF after the empty lines")
        let asterisk = target == [UInt8(ascii: "*")] && method == Array("OPTIONS".utf8)
        check(!method.isEmpty && !target.isEmpty && (target[0] == UInt8(ascii: "/") || asterisk), "bad request line accepted")
        check(minor == 0 || minor == 1, "bad minor version")
        for line in headers {
            let name = line.prefix { $0 != 0 }
            check(!name.isEmpty && !name.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }, "name not lower-case")
            let value = line.dropFirst(name.count + 1)
            check(!value.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }, "CR, LF or NUL in a header value")
            check(value.first != 0x20 && value.last != 0x20 && value.first != 0x09 && value.last != 0x09, "value not trimmed")
        }
    }

    // Growing prefixes: nil (or 431) until the head is complete or refused, then exactly the
    // whole-input result.
    var decided: Int?  // the shortest prefix that decides the result
    switch frame {
    case .end(let end): decided = end
    case .bareLineFeed(let at): decided = at + 1
    case .incomplete: decided = nil
    }
    let prefixes: [Int] = size <= 300 ? Array(0...size) : [0, 1, 2, 3, 4, size / 2, size - 1, size] + (decided.map { [$0 - 1, $0] } ?? [])
    for k in prefixes where k >= 0 && k <= size {
        let prefix = UnsafeMutableRawBufferPointer.allocate(byteCount: k, alignment: 1)
        defer { prefix.deallocate() }
        prefix.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[..<k]))
        let (partial, _) = parse(UnsafeRawBufferPointer(prefix), maxBytes: maxBytes)
        if let decided, k >= decided {
            check(partial == whole, "result changed once the head was complete or refused")
        } else if k >= maxBytes {
            check(partial == whole, "431 not stable")
        } else {
            check(partial == .needMore, "prefix of \(k) bytes did not ask for more")
        }
    }

    // A smaller limit agrees with the large one wherever both see the deciding bytes.
    let small = Int(size % 97) + 4
    let (limited, _) = parse(input, maxBytes: small)
    switch framing(input, limit: small) {
    case .end, .bareLineFeed:
        check(limited == whole, "a smaller maxBytes changed a head that fits it")
    case .incomplete:
        if size >= small {
            check(limited == .error(status: 431, message: HTTPError.headerTooLarge.message.utf8Bytes), "no 431 past maxBytes")
        } else {
            check(limited == .needMore, "short input under a small limit")
        }
    }

    guard let head else { return 0 }
    _ = head.keepAlive
    _ = head.path
    // RFC 9112 §3.2: one Host for HTTP/1.1, at most one for 1.0, and only an authority's bytes.
    let hosts = head.values("host")
    let hostAccepted = (try? head.checkHost()) != nil
    let wellFormed = hosts.first.map(isAuthorityModel) ?? true
    check(hostAccepted == ((hosts.count == 1 && wellFormed) || (hosts.isEmpty && head.minorVersion == 0)),
          "Host rule: \(hosts.count) Host lines, accepted \(hostAccepted)")
    if let authority = head.absoluteAuthority { check(head.authority == authority, "absolute-form authority not used") }
    // RFC 9112 §6: no Transfer-Encoding and no Content-Length is no body; a length is the
    // number every Content-Length member spells.
    if let body = try? head.body() {
        let lengths = head.values("content-length")
        if head.values("transfer-encoding").isEmpty {
            if case .length(let n) = body { check(n > 0 && !lengths.isEmpty, "a length without Content-Length") }
            if body == .none { check(lengths.allSatisfy { $0.allSatisfy { "0, \t".utf8.contains($0) } }, "a Content-Length ignored") }
        } else {
            check(body == .transferCoded && head.minorVersion == 1, "Transfer-Encoding not honoured")
        }
    }
    do throws(HTTPError) {
        let accept = try Handshake.validate(head)
        check(accept.count == 28, "accept value is not base64 of 20 bytes")
        check(Base64.decode(accept)?.count == 20, "accept value does not decode")
        guard let key = try head.single("sec-websocket-key"), let raw = Base64.decode(key) else {
            checkFailure("validated without a decodable key")
        }
        check(raw.count == 16 && Base64.decode(Base64.encode(raw)) == raw, "key round trip")
        check(accept == Handshake.acceptValue(forKey: key), "accept value not deterministic")
        check(head.method == Array("GET".utf8) && head.minorVersion == 1, "non-GET or HTTP/1.0 upgraded")
        check(hosts.count == 1 && !hosts[0].isEmpty, "upgraded without a Host naming the server")
        check(head.values("transfer-encoding").isEmpty && head.values("content-length").allSatisfy { $0.allSatisfy { "0, \t".utf8.contains($0) } },
              "upgraded a request with a body")
        check(head.hasToken("upgrade", "websocket") && head.hasToken("connection", "upgrade"), "tokens missing")
        let version = try head.single("sec-websocket-version")
        check(version == Array("13".utf8), "version not 13")
    } catch {
        check([400, 403, 405, 426].contains(error.status), "unexpected handshake status \(error.status)")
    }
    return 0
}

/// RFC 3986 §3.2 `host [":" port]`, without userinfo, as a byte-by-byte state machine (a second,
/// independent reading of the grammar `Authority` implements).
private func isAuthorityModel(_ bytes: [UInt8]) -> Bool {
    enum State { case host, literal, afterLiteral, port }
    func hex(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b) }
    func regNameByte(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) || "-._~!$&'()*+,;=".utf8.contains(b)
    }
    var state = State.host
    var literal: [UInt8] = []
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        switch state {
        case .host:
            if b == UInt8(ascii: "[") && i == 0 { state = .literal }
            else if b == UInt8(ascii: ":") { state = .port }
            else if b == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, hex(bytes[i + 1]), hex(bytes[i + 2]) else { return false }
                i += 2
            } else if !regNameByte(b) { return false }
        case .literal:
            if b == UInt8(ascii: "]") { state = .afterLiteral } else { literal.append(b) }
        case .afterLiteral:
            guard b == UInt8(ascii: ":") else { return false }
            state = .port
        case .port:
            guard (0x30...0x39).contains(b) else { return false }
        }
        i += 1
    }
    if state == .literal { return false }
    if bytes.first == UInt8(ascii: "[") {
        // IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ); else IPv6's alphabet
        // with at least two colons.
        if let v = literal.first, v == UInt8(ascii: "v") || v == UInt8(ascii: "V") {
            let parts = literal.dropFirst().split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && parts[0].allSatisfy(hex) && !parts[1].isEmpty
                && parts[1].allSatisfy { regNameByte($0) || $0 == UInt8(ascii: ":") }
        }
        return literal.filter { $0 == UInt8(ascii: ":") }.count >= 2 && literal.allSatisfy { hex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
    }
    return true
}
