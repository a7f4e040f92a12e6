import Lantern

/// The client's opening handshake (RFC 6455 §4.1): the request, and the checks on the response.
struct ClientHandshake {
    let request: [UInt8]
    private let expectedAccept: [UInt8]
    private let offeredDeflate: Bool

    init(options: BenchOptions, random: inout FastRandom) {
        var nonce = [UInt8]()
        for _ in 0..<2 { withUnsafeBytes(of: random.next()) { nonce += $0 } }
        let key = Base64.encode(nonce)
        expectedAccept = Handshake.acceptValue(forKey: key)
        offeredDeflate = options.deflate
        var text = "GET \(options.path) HTTP/1.1\r\nHost: \(options.host):\(options.port)\r\n"
            + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(String(decoding: key, as: UTF8.self))\r\nSec-WebSocket-Version: 13\r\n"
        if options.deflate { text += "Sec-WebSocket-Extensions: \(options.deflateOffer)\r\n" }
        request = Array((text + "\r\n").utf8)
    }

    enum Outcome {
        /// The head is not complete yet.
        case needMore
        /// Upgraded; `headLength` bytes belong to the response head, `deflate` is set when negotiated.
        case upgraded(headLength: Int, deflate: DeflateParameters?)
        case failed(String)
    }

    /// Checks the response head at the start of `bytes` (§4.1, the client's six checks that matter here).
    func check(_ bytes: UnsafeRawBufferPointer) -> Outcome {
        guard let headEnd = ClientHandshake.endOfHead(bytes) else {
            return bytes.count > 16384 ? .failed("response head too large") : .needMore
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        guard let status = lines.first, status.hasPrefix("HTTP/1.1 101") else {
            return .failed("handshake refused: \(lines.first ?? "")")
        }
        var upgrade = false, connection = false, accept = false
        var deflate: DeflateParameters? = nil
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .failed("bad header line") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces
            switch name {
            case "upgrade": upgrade = value.lowercased() == "websocket"
            case "connection": connection = value.lowercased().split(separator: ",").contains { $0.trimmingSpaces == "upgrade" }
            case "sec-websocket-accept": accept = Array(value.utf8) == expectedAccept
            case "sec-websocket-extensions":
                switch parseExtensions(value, already: deflate) {
                case .success(let p): deflate = p
                case .failure(let reason): return .failed(reason.text)
                }
            default: break
            }
        }
        guard upgrade && connection else { return .failed("missing Upgrade/Connection") }
        guard accept else { return .failed("wrong Sec-WebSocket-Accept") }
        return .upgraded(headLength: headEnd + 4, deflate: deflate)
    }

    struct Reason: Error { let text: String }

    /// RFC 7692 §7.1: the response may only accept what we offered, once, with known parameters.
    private func parseExtensions(_ value: Substring, already: DeflateParameters?) -> Result<DeflateParameters?, Reason> {
        var result = already
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces }
            guard parts.first?.lowercased() == "permessage-deflate" else { return .failure(Reason(text: "unexpected extension \(item)")) }
            guard offeredDeflate, result == nil else { return .failure(Reason(text: "permessage-deflate not offered or repeated")) }
            var p = DeflateParameters()
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
                let bits = pair.count == 2 ? Int(pair[1].filter { $0 != "\"" }) : nil
                switch pair[0].lowercased() {
                case "server_no_context_takeover": p.receiveNoContextTakeover = true
                case "client_no_context_takeover": p.sendNoContextTakeover = true
                case "client_max_window_bits":
                    guard let b = bits, (8...15).contains(b) else { return .failure(Reason(text: "bad client_max_window_bits")) }
                    p.sendWindowBits = b
                case "server_max_window_bits":
                    guard let b = bits, (8...15).contains(b) else { return .failure(Reason(text: "bad server_max_window_bits")) }
                default: return .failure(Reason(text: "unknown parameter \(parameter)"))
                }
            }
            result = p
        }
        return .success(result)
    }

    private static func endOfHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        let s = self[...]
        guard let first = s.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return s[first...last]
    }
}
