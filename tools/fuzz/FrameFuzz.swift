/// libFuzzer target "frame": `MessageReader` driven as `WebSocketSession.handleBuffered` drives
/// it (the unread bytes fed in chunks, `used` consumed, a message read with `withMessage` before
/// the next call), its events and errors checked against an independent model: the harness
/// parses the same stream itself (RFC 6455 §5, RFC 7692 §6) and knows, for every byte count the
/// reader is given, which events are due, which errors it may throw and which it must have thrown.
///
/// Input layout:
///   byte 0  bits 0-2 chunk size (1, 2, 3, 5, 8, 16, 127, whole), bit 3 compression negotiated,
///           bit 4 unmasked frames allowed, bit 5 release the message buffer after every message
///           (`messageHandled(keepingUpTo: 0)`; clear: the server's 128 KiB)
///   byte 1  bits 6-7 limit class, bits 0-5 limit high bits; byte 2 limit low bits
///   rest    the stream
/// Invariants (check): see `tools/fuzz/README.md`.

private let chunkSizes = [1, 2, 3, 5, 8, 16, 127, Int.max]

/// maxMessageBytes from two input bytes: small, medium, the default, or near Int.max.
func fuzzMessageLimit(_ b1: UInt8, _ b2: UInt8) -> Int {
    let high = Int(b1 & 0x3F)
    switch b1 >> 6 {
    case 0: return high << 8 | Int(b2)  // 0 ... 16383
    case 1: return high << 16 | Int(b2) << 8  // up to ~4 MiB
    case 2: return 1 << 20  // Limits default
    default: return Int.max >> Int(b2 & 0x3F)  // `--max-message-bytes` accepts up to Int.max
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    guard size >= 3 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let config = input[0]
    let setup = Setup(
        chunk: chunkSizes[Int(config & 7)], compression: config & 0x08 != 0, requireMask: config & 0x10 == 0,
        keepingUpTo: config & 0x20 != 0 ? 0 : 128 << 10, maxMessageBytes: fuzzMessageLimit(input[1], input[2]))
    let stream = UnsafeRawBufferPointer(rebasing: input[3...])
    drive(stream, setup, expect: Model(stream, setup))
    return 0
}

private struct Setup {
    var chunk: Int
    var compression: Bool
    var requireMask: Bool
    var keepingUpTo: Int
    var maxMessageBytes: Int
}

// MARK: - The reader, driven as the server drives it

/// Feeds `stream` to a `MessageReader` as `handleBuffered` + `ReadBuffer` do and checks every
/// answer against the model. Offsets are in stream bytes: `consumed` is where the unread bytes
/// start, `available` where they end.
private func drive(_ stream: UnsafeRawBufferPointer, _ setup: Setup, expect model: Model) {
    var reader = MessageReader(
        maxMessageBytes: setup.maxMessageBytes, compressionNegotiated: setup.compression, requireMask: setup.requireMask)
    var pending: [UInt8] = []  // the unread bytes, as the reader left them
    var consumed = 0, available = 0, delivered = 0
    var cursor = FrameCursor(frames: model.frames, after: model.after)
    while true {
        // Exactly the unread bytes in a fresh allocation, so ASan sees any over-read; it stays
        // alive until the event is handled, as the server's buffer does until the next fill.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pending.count, alignment: 1)
        defer { buffer.deallocate() }
        pending.withUnsafeBytes { buffer.copyMemory(from: $0) }
        let answer: (event: InboundEvent?, used: Int)
        do throws(ProtocolError) {
            answer = try reader.next(buffer)
        } catch {
            check(model.allows(error, at: available), "reader threw \(error) at \(available), model: \(model.violations)")
            check(delivered == model.events.count, "reader threw before event \(delivered) was delivered")
            return
        }
        check(answer.used >= 0 && answer.used <= buffer.count, "used \(answer.used) of \(buffer.count) bytes")
        consumed += answer.used
        if let event = answer.event {
            check(delivered < model.events.count, "event \(event) the model does not expect")
            let expected = model.events[delivered]
            delivered += 1
            check(event == expected.event, "event \(event), model expects \(expected.event)")
            check(consumed == expected.end, "event ended at \(consumed), model: \(expected.end)")
            checkPayload(event, expected, &reader, setup, stream.count)
        } else {
            check(delivered == model.events.count || model.events[delivered].end > available,
                  "reader wants more bytes with event \(delivered) complete")
            check(model.latest > available, "no error with \(available) bytes, model: \(model.violations)")
            let frame = cursor.at(available)
            check(consumed == frame.expectedConsumed, "consumed \(consumed) of \(available), model \(frame.expectedConsumed)")
            check(reader.remainingFramePayload == frame.remaining, "remainingFramePayload \(reader.remainingFramePayload), model \(frame.remaining)")
            check(reader.isInMessage == frame.inMessage, "isInMessage \(reader.isInMessage), model \(frame.inMessage)")
            check(reader.heldBytes == frame.held, "heldBytes \(reader.heldBytes), model \(frame.held)")
        }
        check(reader.heldBytes <= wireLimit(setup.maxMessageBytes, compressed: setup.compression), "heldBytes over the limit")
        pending = Array(UnsafeRawBufferPointer(rebasing: buffer[answer.used...]))
        if answer.event != nil { continue }
        if available == stream.count { return }
        let n = min(setup.chunk, stream.count - available)
        pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: stream[available..<(available + n)]))
        available += n
    }
}

/// Compares what the reader holds for `event` with the model's bytes, then hands the message
/// back as `perform` does.
private func checkPayload(_ event: InboundEvent, _ expected: Expected, _ reader: inout MessageReader, _ setup: Setup, _ count: Int) {
    switch event {
    case .message(_, let compressed):
        let bytes = reader.withMessage { Array($0) }
        check(bytes == expected.bytes, "message bytes differ from the model's (\(bytes.count) vs \(expected.bytes.count))")
        check(bytes.count <= wireLimit(setup.maxMessageBytes, compressed: compressed), "message over the limit")
        // In place exactly when the payload of a one-frame message was whole in the first read
        // that reached it (reads end at multiples of the chunk size, or at the end of the input).
        var inPlace = false
        if let whole = expected.whole {
            let firstRead = setup.chunk >= count ? count : min(count, (whole.start / setup.chunk + 1) * setup.chunk)
            inPlace = firstRead >= whole.end
        }
        check(reader.messageIsInPlace == inPlace, "messageIsInPlace \(reader.messageIsInPlace), model \(inPlace)")
        check(reader.heldBytes == (inPlace ? 0 : bytes.count), "heldBytes \(reader.heldBytes) after a \(bytes.count)-byte message")
        reader.messageHandled(keepingUpTo: setup.keepingUpTo)
        check(reader.heldBytes == 0 && !reader.isInMessage, "message not released")
    case .ping, .pong:
        check(reader.control == expected.bytes, "control payload differs from the model's")
    case .close:
        check(reader.control == expected.bytes, "close payload differs from the model's")
        check(Array(reader.closeReason) == Array(expected.bytes.dropFirst(2)), "close reason differs from the model's")
    }
}

/// The model's frame at a stream offset where the reader asked for more bytes.
private struct FrameCursor {
    let frames: [ModelFrame]
    /// Past the last frame: whether a message is open and how many of its bytes are held.
    let after: (open: Bool, held: Int)
    var index = 0

    /// What the reader's state must be with `available` bytes given (offsets only grow).
    mutating func at(_ available: Int) -> (expectedConsumed: Int, remaining: UInt64, inMessage: Bool, held: Int) {
        while index < frames.count && frames[index].end <= UInt64(available) && frames[index].headerEnd <= available { index += 1 }
        guard index < frames.count else { return (available, 0, after.open, after.held) }
        let f = frames[index]
        // A partial header is left unread; a frame's payload is used as it arrives.
        if available < f.headerEnd { return (f.start, 0, f.openBefore, f.heldBefore) }
        let arrived = available - f.headerEnd
        return (available, f.end - UInt64(available), f.openDuring, f.heldBase + (f.isData ? arrived : 0))
    }
}

// MARK: - The model

/// An event the reader must return, with the bytes it must hold for it.
private struct Expected {
    var event: InboundEvent
    /// The message (compressed as sent) or the control payload, unmasked.
    var bytes: [UInt8]
    /// Stream offset just past the frame that completes the event.
    var end: Int
    /// A one-frame message's payload (start, end), where it may be used in place.
    var whole: (start: Int, end: Int)?
}

/// One reason the stream is invalid: `error` may be thrown once `earliest` bytes have been
/// given (the information is there) and one of them must be by `latest`.
private struct Violation: CustomStringConvertible {
    var error: ProtocolError
    var earliest: Int
    var latest: Int
    var description: String { "\(error)@\(earliest)...\(latest)" }
}

private struct ModelFrame {
    var start: Int
    var headerEnd: Int
    /// Just past the declared payload (may lie far beyond the input).
    var end: UInt64
    var isData: Bool
    var openBefore: Bool
    var openDuring: Bool
    /// Message bytes held before the header, and before the payload.
    var heldBefore: Int
    var heldBase: Int
}

/// The stream as RFC 6455 / RFC 7692 read it, written out plainly and independently of
/// `FrameHeader`, `MessageAssembler` and `UTF8Validator`.
private struct Model {
    var events: [Expected] = []
    var frames: [ModelFrame] = []
    /// Every violation of the first invalid frame (empty while the stream is valid).
    var violations: [Violation] = []
    /// The state after the last frame when every frame is whole and valid.
    var after = (open: false, held: 0)
    var latest: Int { violations.map(\.latest).min() ?? Int.max }

    func allows(_ error: ProtocolError, at available: Int) -> Bool {
        violations.contains { $0.error == error && $0.earliest <= available }
    }

    init(_ s: UnsafeRawBufferPointer, _ setup: Setup) {
        var p = 0
        var open = false, openText = false, openCompressed = false, openOpcode = Opcode.binary
        var message: [UInt8] = []
        var checkedUTF8 = 0  // message[..<checkedUTF8] is whole characters
        while p < s.count {
            guard p + 2 <= s.count else {
                frames.append(ModelFrame(start: p, headerEnd: p + 2, end: UInt64(p + 2), isData: false, openBefore: open,
                                         openDuring: open, heldBefore: message.count, heldBase: message.count))
                return
            }
            // 1. The first two bytes (RFC 6455 §5.2).
            let b0 = s[p], b1 = s[p + 1]
            let fin = b0 & 0x80 != 0, rsv = b0 & 0x70, op = b0 & 0x0F
            let masked = b1 & 0x80 != 0, len7 = b1 & 0x7F
            let lengthEnd = p + 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0)
            let headerEnd = lengthEnd + (masked ? 4 : 0)
            let known = [0, 1, 2, 8, 9, 10].contains(op)
            let control = op & 0x08 != 0
            let data = known && !control
            var bad: [Violation] = []
            func flag(_ e: ProtocolError, _ earliest: Int, _ latest: Int) { bad.append(Violation(error: e, earliest: earliest, latest: latest)) }
            // No extension but permessage-deflate, whose RSV1 marks a message's first frame (RFC 7692 §6).
            if rsv & ~(setup.compression ? 0x40 : 0) != 0 { flag(.reservedBitsSet, p + 2, p + 2) }
            else if rsv != 0 && known && (control || op == 0) { flag(.reservedBitsSet, p + 2, headerEnd) }
            if !known { flag(.unknownOpcode(op), p + 2, p + 2) }
            // §5.1: a server fails the connection on an unmasked client frame.
            if setup.requireMask && !masked { flag(.unmaskedClientFrame, p + 2, p + 2) }
            // §5.5: control frames are final and carry at most 125 bytes.
            if known && control && !fin { flag(.fragmentedControlFrame, p + 2, p + 2) }
            if known && control && len7 > 125 { flag(.controlFrameTooLong, p + 2, p + 2) }
            // §5.4: continuations only inside a message, and messages are not interleaved.
            if op == 0 && !open { flag(.unexpectedContinuation, p + 2, headerEnd) }
            if (op == 1 || op == 2) && open { flag(.expectedContinuation, p + 2, headerEnd) }
            // 2. The length (§5.2: 7, 16 or 63 bits) and the message limit.
            var length = UInt64(len7)
            if lengthEnd <= s.count {
                if len7 == 126 { length = UInt64(s[p + 2]) << 8 | UInt64(s[p + 3]) }
                if len7 == 127 {
                    length = (p + 2..<p + 10).reduce(0) { $0 << 8 | UInt64(s[$1]) }
                    if length >> 63 != 0 { flag(.invalidLength, lengthEnd, lengthEnd) }
                }
                if data && length >> 63 == 0 {
                    let compressed = op == 0 ? openCompressed : setup.compression && rsv & 0x40 != 0
                    let held = op == 0 && open ? message.count : 0
                    if length > UInt64(wireLimit(setup.maxMessageBytes, compressed: compressed) - held) {
                        flag(.messageTooBig, lengthEnd, headerEnd)
                    }
                }
            }
            let startsMessage = op == 1 || op == 2
            let heldBase = startsMessage ? 0 : message.count
            let end = length >> 63 == 0 ? UInt64(headerEnd) + length : UInt64(headerEnd)
            frames.append(ModelFrame(start: p, headerEnd: headerEnd, end: end, isData: data, openBefore: open,
                                     openDuring: open || startsMessage, heldBefore: message.count, heldBase: heldBase))
            guard bad.isEmpty else { violations = bad; return }
            guard headerEnd <= s.count else { return }
            // 3. The payload, unmasked with the key in wire order (§5.3).
            let present = Int(min(end, UInt64(s.count))) - headerEnd
            let complete = end <= UInt64(s.count)
            var payload = [UInt8](repeating: 0, count: present)
            for i in 0..<present { payload[i] = s[headerEnd + i] ^ (masked ? s[lengthEnd + i % 4] : 0) }
            let frameEnd = headerEnd + present
            if control {
                let closeBad = op == 8 ? closeViolations(payload, declared: length, headerEnd: headerEnd, complete: complete) : []
                guard closeBad.isEmpty else { violations = closeBad; return }
                guard complete else { return }
                let event: InboundEvent = op == 9 ? .ping : op == 10 ? .pong : .close(closeCode(payload))
                events.append(Expected(event: event, bytes: payload, end: frameEnd, whole: nil))
            } else {
                if startsMessage {
                    open = true
                    openOpcode = op == 1 ? .text : .binary
                    openCompressed = setup.compression && rsv & 0x40 != 0
                    openText = op == 1 && !openCompressed
                    message = []
                    checkedUTF8 = 0
                }
                let before = message.count
                message += payload
                // §8.1: text is UTF-8, checked as it arrives; a message may not end inside a character.
                if openText {
                    if let bad = firstInvalidUTF8(message, from: checkedUTF8, after: before, complete: fin && complete) {
                        let at = headerEnd + (bad - before)
                        violations = [Violation(error: .invalidUTF8, earliest: at, latest: at)]
                        return
                    }
                    checkedUTF8 = wholeCharacters(message, from: checkedUTF8)
                }
                guard complete else { return }
                if fin {
                    let whole = startsMessage && length > 0 ? (headerEnd, frameEnd) : nil
                    events.append(Expected(event: .message(openOpcode, compressed: openCompressed), bytes: message, end: frameEnd, whole: whole))
                    open = false
                    message = []
                }
            }
            p = frameEnd
        }
        after = (open, message.count)
    }
}

/// RFC 6455 §5.5.1 / §7.4: a close payload is empty or a valid code plus UTF-8 reason. The
/// reader may see a bad code or reason as soon as it arrives; it must act by the frame's end.
private func closeViolations(_ payload: [UInt8], declared: UInt64, headerEnd: Int, complete: Bool) -> [Violation] {
    let latest = complete ? headerEnd + payload.count : Int.max
    var bad: [Violation] = []
    if declared == 1 { bad.append(Violation(error: .closePayloadTooShort, earliest: headerEnd, latest: latest)) }
    if payload.count >= 2 {
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        if !isRegisteredCloseCode(code) { bad.append(Violation(error: .invalidCloseCode(code), earliest: headerEnd + 2, latest: latest)) }
        let reason = Array(payload[2...])
        if let at = firstInvalidUTF8(reason, from: 0, after: 0, complete: complete) {
            bad.append(Violation(error: .invalidUTF8, earliest: headerEnd + 2 + at, latest: latest))
        }
    }
    return bad
}

private func closeCode(_ payload: [UInt8]) -> CloseCode? {
    payload.count < 2 ? nil : CloseCode(rawValue: UInt16(payload[0]) << 8 | UInt16(payload[1]))
}

/// Codes a peer may send (RFC 6455 §7.4.1–7.4.2 and the IANA registry: 1004–1006 and 1015 are
/// never sent, 1012–1014 were registered later, 3000–4999 are for libraries and applications).
private func isRegisteredCloseCode(_ code: UInt16) -> Bool {
    (1000...1003).contains(code) || (1007...1014).contains(code) || (3000...4999).contains(code)
}

/// The shortest prefix length past `after` whose bytes no continuation can make valid UTF-8, or,
/// when `complete`, the whole count if the bytes end inside a character. `bytes[..<from]` is
/// whole characters; judged by the standard library, not by `UTF8Validator`.
private func firstInvalidUTF8(_ bytes: [UInt8], from: Int, after: Int, complete: Bool) -> Int? {
    if String(validating: bytes[from...], as: UTF8.self) != nil { return nil }
    if extendable(bytes[from...]) { return complete ? bytes.count : nil }
    // Extendable is monotone: once a prefix cannot be completed, no longer one can.
    var low = after, high = bytes.count  // bytes[..<low] is extendable, bytes[..<high] is not
    while high - low > 1 {
        let mid = (low + high) / 2
        if extendable(bytes[from..<mid]) { low = mid } else { high = mid }
    }
    return high
}

/// Whether 1–3 more bytes can finish the last character: the first one from 80, 90 or A0
/// (E0, ED, F0 and F4 narrow the second byte's range), the rest 80.
private func extendable(_ bytes: ArraySlice<UInt8>) -> Bool {
    if String(validating: bytes, as: UTF8.self) != nil { return true }
    for first: UInt8 in [0x80, 0x90, 0xA0] {
        var tail = Array(bytes)
        tail.append(first)
        for _ in 0..<3 {
            if String(validating: tail, as: UTF8.self) != nil { return true }
            tail.append(0x80)
        }
    }
    return false
}

/// The longest prefix of whole characters (the bytes are extendable from `from`).
private func wholeCharacters(_ bytes: [UInt8], from: Int) -> Int {
    var end = bytes.count
    while end > from && String(validating: bytes[from..<end], as: UTF8.self) == nil { end -= 1 }
    return end
}

/// The most wire bytes a message may take: deflate may expand a little, so a compressed one gets
/// `max/64 + 1024` more (saturating at Int.max; its inflated size is capped elsewhere).
private func wireLimit(_ max: Int, compressed: Bool) -> Int {
    guard compressed else { return max }
    let slack = max / 64 + 1024
    return max > Int.max - slack ? Int.max : max + slack
}
