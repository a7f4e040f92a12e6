@testable import Lantern

/// Bytes from a hex string such as "81 05 48 65"; spaces are ignored.
func hex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var pending: UInt8? = nil
    for c in text.utf8 where c != UInt8(ascii: " ") {
        let v: UInt8
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit in \(text)")
        }
        if let high = pending { out.append(high << 4 | v); pending = nil } else { pending = v }
    }
    precondition(pending == nil, "odd number of hex digits in \(text)")
    return out
}

/// Lower-case hex of bytes, no separators.
func hexString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
    return String(decoding: out, as: UTF8.self)
}

/// A deterministic generator (SplitMix64), so random tables are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The ways a byte vector is fed to an incremental parser: whole, byte by byte, and in two halves
/// split at every position (gorilla/websocket `TestFraming` style).
func feedings(_ bytes: [UInt8]) -> [(name: String, chunks: [[UInt8]])] {
    var out: [(String, [[UInt8]])] = [("whole", [bytes]), ("byte by byte", bytes.map { [$0] })]
    if bytes.count > 1 {
        for split in 1..<bytes.count {
            out.append(("halves at \(split)", [Array(bytes[..<split]), Array(bytes[split...])]))
        }
    }
    return out
}

/// Feeding strategies for long vectors: whole, byte by byte, halves in the middle and a few odd chunk sizes.
func coarseFeedings(_ bytes: [UInt8]) -> [(name: String, chunks: [[UInt8]])] {
    var out: [(String, [[UInt8]])] = [("whole", [bytes]), ("byte by byte", bytes.map { [$0] })]
    let mid = bytes.count / 2
    out.append(("halves", [Array(bytes[..<mid]), Array(bytes[mid...])]))
    for size in [3, 7, 13] {
        out.append(("chunks of \(size)", stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }))
    }
    return out
}

/// Parses a frame header from a byte array.
func parseHeader(_ bytes: [UInt8], rules: FrameRules) throws -> (FrameHeader, Int)? {
    try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> (FrameHeader, Int)? in
        try FrameHeader.parse(raw, rules: rules)
    }
}

/// An `Equatable` copy of a `FrameEvent` with the payload copied out.
enum DecodedEvent: Equatable, CustomStringConvertible {
    case start(FrameHeader)
    case payload([UInt8])
    case end

    var description: String {
        switch self {
        case .start(let h): return "start(\(h.opcode) fin=\(h.fin) len=\(h.payloadLength))"
        case .payload(let p): return "payload(\(hexString(p)))"
        case .end: return "end"
        }
    }
}

/// Runs a `FrameDecoder` over `chunks` as they would arrive from a socket, keeping unconsumed bytes.
/// Adjacent payload events are merged so that every feeding of the same bytes gives the same list.
func decodeFrames(_ chunks: [[UInt8]], rules: FrameRules = FrameRules()) throws -> [DecodedEvent] {
    var decoder = FrameDecoder(rules: rules)
    var buffer: [UInt8] = []
    var events: [DecodedEvent] = []
    func record(_ e: DecodedEvent) {
        if case .payload(let more) = e, case .payload(let have)? = events.last {
            events[events.count - 1] = .payload(have + more)
        } else {
            events.append(e)
        }
    }
    for chunk in chunks + [[]] {
        buffer += chunk
        while true {
            let step = try buffer.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) throws -> (DecodedEvent, Int)? in
                guard let (event, used) = try decoder.next(raw) else { return nil }
                switch event {
                case .frameStart(let h): return (.start(h), used)
                case .payload(let p): return (.payload(Array(p)), used)
                case .frameEnd: return (.end, used)
                }
            }
            guard let (event, used) = step else { break }
            record(event)
            buffer.removeFirst(used)
        }
    }
    return events
}

/// Drives a `MessageReader` (unmasked frames allowed) with whole frames, as bytes: each frame's
/// header goes with its first payload chunk, the other chunks follow one read at a time.
struct ReaderDriver {
    var reader: MessageReader
    /// The payload of the last message, copied out while it was valid.
    private(set) var message: [UInt8] = []
    /// Whether the last message was read in place (not copied by the reader).
    private(set) var messageWasInPlace = false
    private var pending: [UInt8] = []

    init(maxMessageBytes: Int = 1 << 20, compressionNegotiated: Bool = false) {
        reader = MessageReader(maxMessageBytes: maxMessageBytes, compressionNegotiated: compressionNegotiated, requireMask: false)
    }

    /// Feeds one frame; returns the event it completed (the last one, if a chunk completed several).
    mutating func frame(_ opcode: Opcode, fin: Bool = true, rsv: UInt8 = 0, chunks: [[UInt8]]) throws -> InboundEvent? {
        let length = chunks.reduce(0) { $0 + $1.count }
        let header = FrameHeader(fin: fin, reservedBits: rsv, opcode: opcode, payloadLength: UInt64(length)).encoded
        var event: InboundEvent? = nil
        for piece in [header + (chunks.first ?? [])] + chunks.dropFirst() {
            event = try feed(piece) ?? event
        }
        return event
    }

    mutating func frame(_ opcode: Opcode, fin: Bool = true, rsv: UInt8 = 0, _ payload: [UInt8] = []) throws -> InboundEvent? {
        try frame(opcode, fin: fin, rsv: rsv, chunks: payload.isEmpty ? [] : [payload])
    }

    /// Feeds raw bytes as one read; returns the last event they completed.
    mutating func feed(_ bytes: [UInt8]) throws -> InboundEvent? {
        pending += bytes
        var last: InboundEvent? = nil
        var reader = self.reader
        defer { self.reader = reader }
        while true {
            var message: [UInt8]? = nil
            var inPlace = false
            let (event, used) = try pending.withUnsafeMutableBytes { (raw: UnsafeMutableRawBufferPointer) throws in
                let step = try reader.next(raw)
                if case .message? = step.event {
                    message = reader.withMessage { Array($0) }
                    inPlace = reader.messageIsInPlace
                }
                return step
            }
            pending.removeFirst(used)
            guard let event else { return last }
            if let message {
                self.message = message
                messageWasInPlace = inPlace
                reader.messageHandled(keepingUpTo: 1 << 20)
            }
            last = event
        }
    }
}
