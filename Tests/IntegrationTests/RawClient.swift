import Foundation
import Glibc

/// What can go wrong while talking to the server.
enum ClientError: Error, Equatable, CustomStringConvertible {
    /// Nothing (or not enough) arrived before the deadline.
    case timeout
    /// The peer closed the TCP connection (recv returned 0).
    case closed
    /// The peer reset the TCP connection.
    case reset
    /// Another syscall failure.
    case system(String, Int32)
    /// The server sent bytes that break HTTP or RFC 6455 from a client's point of view.
    case malformed(String)

    var description: String {
        switch self {
        case .timeout: "timed out"
        case .closed: "connection closed by peer"
        case .reset: "connection reset by peer"
        case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
        case .malformed(let why): "malformed: \(why)"
        }
    }
}

/// RFC 6455 §5.2 opcodes as raw values, so tests can also send the reserved ones.
enum Op {
    static let continuation: UInt8 = 0x0, text: UInt8 = 0x1, binary: UInt8 = 0x2
    static let close: UInt8 = 0x8, ping: UInt8 = 0x9, pong: UInt8 = 0xA
}

/// One frame as received from the server.
struct Frame: CustomStringConvertible {
    /// Final fragment of its message.
    var fin: Bool
    /// RSV1..3 as the bits 0x40/0x20/0x10 of the first byte.
    var rsv: UInt8
    /// Raw opcode (see `Op`).
    var opcode: UInt8
    /// Whether the MASK bit was set (a server must never set it, RFC 6455 §5.1).
    var masked: Bool
    /// Unmasked payload.
    var payload: [UInt8]

    /// The close code of a close frame (nil when its payload is empty or 1 byte).
    var closeCode: UInt16? { payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }

    var description: String { "Frame(fin: \(fin), rsv: \(rsv), opcode: \(opcode), masked: \(masked), \(payload.count) bytes, closeCode: \(closeCode.map(String.init) ?? "-"))" }
}

/// A parsed HTTP response head (and body, when read).
struct HTTPResponse {
    /// E.g. `HTTP/1.1 404 Not Found`.
    var statusLine: String
    /// The numeric status code.
    var status: Int
    /// Header fields in order, values trimmed.
    var headers: [(name: String, value: String)]
    /// The Content-Length body (empty for HEAD, 1xx, 204, 304).
    var body: [UInt8] = []

    /// The first header named `name` (case-insensitive).
    func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }
}

/// A blocking TCP client with deadlines on every read, speaking raw HTTP and RFC 6455 frames.
final class RawClient {
    /// The WebSocket endpoint of the server.
    static let webSocketPath = "/ws"
    /// RFC 6455 §1.3 magic GUID.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The connected socket (close-on-exec, so servers spawned meanwhile never hold it open).
    let fd: Int32
    private var buffer: [UInt8] = []
    private var isClosed = false
    /// Default time allowed for any single read operation.
    var timeout: TimeInterval

    /// Where a client connects: the IPv4 or IPv6 loopback, or a Unix socket.
    enum Address {
        case ipv4Loopback(UInt16)
        case ipv6Loopback(UInt16)
        case unix(String)
    }

    /// Connects to 127.0.0.1:`port`. `receiveBufferBytes` is set before connecting, so the
    /// window advertised from the SYN on is already that small.
    convenience init(port: UInt16, timeout: TimeInterval = 5, receiveBufferBytes: Int32? = nil) throws {
        try self.init(address: .ipv4Loopback(port), timeout: timeout, receiveBufferBytes: receiveBufferBytes)
    }

    init(address: Address, timeout: TimeInterval = 5, receiveBufferBytes: Int32? = nil) throws {
        self.timeout = timeout
        var storage = sockaddr_storage()
        let length: Int
        switch address {
        case .ipv4Loopback(let port):
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            length = Self.store(a, in: &storage)
        case .ipv6Loopback(let port):
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            a.sin6_addr = in6addr_loopback
            length = Self.store(a, in: &storage)
        case .unix(let path):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &a.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
            length = Self.store(a, in: &storage)
        }
        fd = socket(Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError.system("socket", errno) }
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if case .unix = address {} else {
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        // Sends of big payloads must not block forever either.
        var sendTimeout = timeval(tv_sec: Int(timeout.rounded(.up)), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(length)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw ClientError.system("connect", code)
        }
    }

    private static func store<T>(_ address: T, in storage: inout sockaddr_storage) -> Int {
        withUnsafeMutableBytes(of: &storage) { dst in withUnsafeBytes(of: address) { dst.copyMemory(from: $0) } }
        return MemoryLayout<T>.size
    }

    deinit { close() }

    /// Closes the socket (no close frame: an abrupt TCP close from the server's point of view).
    func close() {
        if !isClosed { isClosed = true; Glibc.close(fd) }
    }

    /// Aborts the connection with a TCP RST (SO_LINGER 0).
    func reset() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close()
    }

    // MARK: - Raw bytes

    /// Sends every byte (MSG_NOSIGNAL: a closed peer must give an error, not kill the test runner).
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET || errno == EPIPE { throw ClientError.reset }
                if errno == EAGAIN || errno == EWOULDBLOCK { throw ClientError.timeout }
                throw ClientError.system("send", errno)
            }
            offset += n
        }
    }

    /// Sends an ASCII/UTF-8 string.
    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// Reads more bytes into the buffer, waiting until `deadline`; returns how many arrived.
    @discardableResult
    private func fill(deadline: Date) throws -> Int {
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw ClientError.timeout }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(min(remaining * 1000, 60_000).rounded(.up)))
            if ready < 0 { if errno == EINTR { continue }; throw ClientError.system("poll", errno) }
            if ready == 0 { continue }  // re-check the deadline
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK { continue }
                if errno == ECONNRESET { throw ClientError.reset }
                throw ClientError.system("recv", errno)
            }
            if n == 0 { throw ClientError.closed }
            buffer.append(contentsOf: chunk[0..<n])
            return n
        }
    }

    /// Exactly `count` bytes.
    func read(count: Int, timeout: TimeInterval? = nil) throws -> [UInt8] {
        let deadline = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        while buffer.count < count { try fill(deadline: deadline) }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    /// Bytes already received but not consumed.
    var pendingBytes: [UInt8] { buffer }

    /// Waits for the peer to close TCP (FIN or RST); returns the bytes that arrived before it.
    /// Throws `.timeout` if the connection is still open at the deadline.
    func readUntilEOF(timeout: TimeInterval? = nil) throws -> [UInt8] {
        let deadline = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        while true {
            do { try fill(deadline: deadline) } catch ClientError.closed, ClientError.reset {
                defer { buffer.removeAll() }
                return buffer
            }
        }
    }

    // MARK: - HTTP

    /// Reads a response head (status line + headers) and, unless `bodyless`, a Content-Length body.
    func readHTTPResponse(bodyless: Bool = false, timeout: TimeInterval? = nil) throws -> HTTPResponse {
        let deadline = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        let terminator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while end == nil {
            if let range = buffer.firstRange(of: terminator) { end = range.upperBound; break }
            guard buffer.count < 65536 else { throw ClientError.malformed("response head over 64 KiB") }
            try fill(deadline: deadline)
        }
        let head = String(decoding: buffer[0..<end!], as: UTF8.self)
        buffer.removeFirst(end!)
        var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard !lines.isEmpty else { throw ClientError.malformed("empty response head") }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            throw ClientError.malformed("bad status line \(statusLine.debugDescription)")
        }
        var response = HTTPResponse(statusLine: statusLine, status: status, headers: [])
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError.malformed("bad header line \(line.debugDescription)") }
            response.headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        // RFC 9110: 1xx, 204 and 304 responses and answers to HEAD have no body.
        if !bodyless && status >= 200 && status != 204 && status != 304,
           let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else { throw ClientError.malformed("Content-Length \(lengthText)") }
            while buffer.count < length { try fill(deadline: deadline) }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        }
        return response
    }

    /// Sends a request built from a request line and header lines.
    func sendRequest(_ requestLine: String, headers: [String], body: [UInt8] = []) throws {
        var text = requestLine + "\r\n"
        for header in headers { text += header + "\r\n" }
        text += "\r\n"
        try send(Array(text.utf8) + body)
    }

    // MARK: - WebSocket handshake

    /// A fresh random `Sec-WebSocket-Key` (16 random bytes, base64).
    static func makeKey() -> String {
        Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// The `Sec-WebSocket-Accept` value for `key` (RFC 6455 §4.2.2 step 5.4).
    static func acceptValue(for key: String) -> String {
        Data(SHA1.digest(Array((key + guid).utf8))).base64EncodedString()
    }

    /// The header lines of a valid upgrade request.
    static func upgradeHeaders(port: UInt16, key: String) -> [String] {
        ["Host: 127.0.0.1:\(port)", "Upgrade: websocket", "Connection: Upgrade",
         "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13"]
    }

    /// Connects and completes the opening handshake, checking the 101 response.
    static func webSocket(port: UInt16, path: String = webSocketPath, timeout: TimeInterval = 5) throws -> RawClient {
        try webSocket(address: .ipv4Loopback(port), path: path, timeout: timeout)
    }

    /// The same at any address; `extraHeaders` join the upgrade request (e.g. offers, proxy headers).
    static func webSocket(address: Address, path: String = webSocketPath, extraHeaders: [String] = [],
                          timeout: TimeInterval = 5) throws -> RawClient {
        let client = try RawClient(address: address, timeout: timeout)
        let key = makeKey()
        var headers = upgradeHeaders(port: 80, key: key)
        switch address {
        case .ipv4Loopback(let port): headers[0] = "Host: 127.0.0.1:\(port)"
        case .ipv6Loopback(let port): headers[0] = "Host: [::1]:\(port)"
        case .unix: headers[0] = "Host: localhost"
        }
        try client.sendRequest("GET \(path) HTTP/1.1", headers: headers + extraHeaders)
        let response = try client.readHTTPResponse(bodyless: true)
        guard response.status == 101 else { throw ClientError.malformed("expected 101, got \(response.statusLine)") }
        guard response.header("Upgrade")?.lowercased() == "websocket" else { throw ClientError.malformed("Upgrade header \(response.header("Upgrade") ?? "missing")") }
        guard response.header("Connection")?.lowercased().contains("upgrade") == true else { throw ClientError.malformed("Connection header \(response.header("Connection") ?? "missing")") }
        guard response.header("Sec-WebSocket-Accept") == acceptValue(for: key) else {
            throw ClientError.malformed("Sec-WebSocket-Accept \(response.header("Sec-WebSocket-Accept") ?? "missing"), expected \(acceptValue(for: key))")
        }
        return client
    }

    // MARK: - Frames

    /// Encodes a client frame; every header field can be set wrong on purpose.
    /// `length` overrides the advertised payload length (the real bytes sent are `payload`).
    static func encodeFrame(fin: Bool = true, rsv: UInt8 = 0, opcode: UInt8, payload: [UInt8] = [],
                            masked: Bool = true, length: UInt64? = nil) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 0x70) | (opcode & 0x0F)]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let advertised = length ?? UInt64(payload.count)
        switch advertised {
        case 0...125: bytes.append(maskBit | UInt8(advertised))
        case 126...0xFFFF: bytes.append(maskBit | 126); bytes += [UInt8(advertised >> 8), UInt8(advertised & 0xFF)]
        default:
            bytes.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: advertised >> UInt64(shift))) }
        }
        if masked {
            let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
            bytes += key
            bytes += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        } else {
            bytes += payload
        }
        return bytes
    }

    /// Sends one frame (see `encodeFrame`).
    func sendFrame(fin: Bool = true, rsv: UInt8 = 0, opcode: UInt8, payload: [UInt8] = [],
                   masked: Bool = true, length: UInt64? = nil) throws {
        try send(Self.encodeFrame(fin: fin, rsv: rsv, opcode: opcode, payload: payload, masked: masked, length: length))
    }

    /// Sends a close frame with `code` (if any) and `reason`.
    func sendClose(code: UInt16?, reason: [UInt8] = []) throws {
        let payload = code.map { [UInt8($0 >> 8), UInt8($0 & 0xFF)] + reason } ?? []
        try sendFrame(opcode: Op.close, payload: payload)
    }

    /// Reads one frame; a server frame must be unmasked (RFC 6455 §5.1).
    func readFrame(timeout: TimeInterval? = nil) throws -> Frame {
        let deadline = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        func need(_ count: Int) throws { while buffer.count < count { try fill(deadline: deadline) } }
        try need(2)
        let b0 = buffer[0], b1 = buffer[1]
        var headerLength = 2
        var length = UInt64(b1 & 0x7F)
        if length == 126 {
            try need(4); headerLength = 4
            length = UInt64(buffer[2]) << 8 | UInt64(buffer[3])
        } else if length == 127 {
            try need(10); headerLength = 10
            length = buffer[2..<10].reduce(0) { $0 << 8 | UInt64($1) }
        }
        let masked = b1 & 0x80 != 0
        if masked { headerLength += 4 }
        guard length <= 64 << 20 else { throw ClientError.malformed("server frame of \(length) bytes") }
        try need(headerLength + Int(length))
        var payload = Array(buffer[headerLength..<(headerLength + Int(length))])
        if masked {
            let key = Array(buffer[(headerLength - 4)..<headerLength])
            payload = payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        }
        buffer.removeFirst(headerLength + Int(length))
        return Frame(fin: b0 & 0x80 != 0, rsv: b0 & 0x70, opcode: b0 & 0x0F, masked: masked, payload: payload)
    }

    /// Reads one data message, reassembling continuation frames; control frames are not allowed here.
    func readMessage(timeout: TimeInterval? = nil) throws -> (opcode: UInt8, payload: [UInt8]) {
        let deadline = Date(timeIntervalSinceNow: timeout ?? self.timeout)
        let first = try readFrame(timeout: deadline.timeIntervalSinceNow)
        guard first.opcode == Op.text || first.opcode == Op.binary else { throw ClientError.malformed("expected a data frame, got \(first)") }
        try Self.check(first)
        var payload = first.payload
        var fin = first.fin
        while !fin {
            let next = try readFrame(timeout: deadline.timeIntervalSinceNow)
            guard next.opcode == Op.continuation else { throw ClientError.malformed("expected a continuation, got \(next)") }
            try Self.check(next)
            payload += next.payload
            fin = next.fin
        }
        return (first.opcode, payload)
    }

    /// Reads the next frame, which must be a close frame; returns it.
    func readCloseFrame(timeout: TimeInterval? = nil) throws -> Frame {
        let frame = try readFrame(timeout: timeout)
        guard frame.opcode == Op.close else { throw ClientError.malformed("expected a close frame, got \(frame)") }
        try Self.check(frame)
        return frame
    }

    private static func check(_ frame: Frame) throws {
        if frame.masked { throw ClientError.malformed("server frame is masked: \(frame)") }
        if frame.rsv != 0 { throw ClientError.malformed("server frame has RSV bits: \(frame)") }
    }
}
