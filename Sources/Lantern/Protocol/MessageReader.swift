/// Turns the bytes a client sends into whole events: a message, a ping, a pong or a close.
/// It runs the frame decoder (syntax, masking, which reserved bits may be set) and the
/// assembler (fragmentation, UTF-8, size) as one step, and it alone knows where a message's
/// bytes are: left in the caller's receive buffer, or copied into the assembler.
///
/// No copy on the echo path: when a data frame is a whole message and its payload arrived in one
/// piece, the reader only validates it there (unmasked in place) instead of copying it.
public struct MessageReader {
    private var decoder: FrameDecoder
    private var assembler: MessageAssembler
    /// Declared length of the current frame while its payload may still be used in place: a data
    /// frame with FIN that opened no fragmented message, none of whose payload arrived yet.
    private var wholeMessageLength: UInt64? = nil
    /// The last message's payload when it was left in the caller's buffer.
    private var inPlace: UnsafeRawBufferPointer? = nil

    /// `compressionNegotiated`: permessage-deflate was agreed, so RSV1 marks a compressed
    /// message (RFC 7692 §6); without it every reserved bit fails the connection (RFC 6455 §5.2).
    public init(maxMessageBytes: Int, compressionNegotiated: Bool, requireMask: Bool = true) {
        let reserved = compressionNegotiated ? FrameHeader.rsv1 : 0
        decoder = FrameDecoder(rules: FrameRules(allowedReservedBits: reserved, requireMask: requireMask))
        assembler = MessageAssembler(maxMessageBytes: maxMessageBytes)
    }

    /// Reads from the start of `bytes` up to the end of the next whole event, unmasking in place.
    /// Returns that event (nil when `bytes` ran out first) and how many bytes were used; the
    /// caller drops those bytes but keeps them in memory until the event has been handled, since
    /// a message's payload may still be there (`withMessage`).
    public mutating func next(_ bytes: UnsafeMutableRawBufferPointer) throws(ProtocolError) -> (event: InboundEvent?, used: Int) {
        inPlace = nil
        var used = 0
        while let (step, n) = try decoder.next(UnsafeMutableRawBufferPointer(rebasing: bytes[used...])) {
            used += n
            switch step {
            case .frameStart(let header):
                try assembler.frameStart(header)
                let whole = header.fin && header.opcode != .continuation && !header.opcode.isControl
                wholeMessageLength = whole ? header.payloadLength : nil
            case .payload(let chunk):
                let payload = UnsafeRawBufferPointer(chunk)
                if wholeMessageLength == UInt64(payload.count) {
                    try assembler.validateInPlace(payload)
                    inPlace = payload
                } else {
                    try assembler.payload(payload, restOfFrame: decoder.remainingPayload)
                }
                wholeMessageLength = nil
            case .frameEnd:
                if let event = try assembler.frameEnd() { return (event, used) }
            }
        }
        return (nil, used)
    }

    /// Calls `body` with the payload of the message `next` just returned (still compressed if
    /// it was). Valid until the next call to `next` or `messageHandled`.
    public func withMessage<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let inPlace { return body(inPlace) }
        return assembler.message.withUnsafeBytes(body)
    }

    /// Whether the last message was left in the caller's buffer rather than copied.
    public var messageIsInPlace: Bool { inPlace != nil }

    /// Forgets the last message; keeps its buffer for the next one only up to `keepingUpTo`
    /// bytes, so an idle connection does not hold the peak of a rare large message.
    public mutating func messageHandled(keepingUpTo limit: Int) {
        inPlace = nil
        assembler.releaseMessage(keepingUpTo: limit)
    }

    /// The payload of the last ping (or of any control frame: at most 125 bytes).
    public var control: [UInt8] { assembler.control }

    /// The reason bytes of the last close frame.
    public var closeReason: ArraySlice<UInt8> { assembler.closeReason }

    /// Bytes of a message held so far in the reader's own memory (not counting what is in place).
    public var heldBytes: Int { assembler.heldBytes }

    /// Payload bytes of the current frame still to come (0 between frames).
    public var remainingFramePayload: UInt64 { decoder.remainingPayload }

    /// True while a fragmented message is open.
    public var isInMessage: Bool { assembler.isInMessage }
}
