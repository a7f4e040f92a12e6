/// What a completed frame means to the connection.
public enum InboundEvent: Equatable, Sendable {
    /// A whole data message (its bytes: `MessageReader.withMessage`).
    case message(Opcode, compressed: Bool)
    /// A ping; its payload is `MessageReader.control`.
    case ping
    /// A pong (unsolicited pongs are allowed and ignored, RFC 6455 §5.5.3).
    case pong
    /// A close frame with its code (nil when the payload was empty); the reason is `closeReason`.
    case close(CloseCode?)
}

/// Reassembles frames into messages and enforces the message-level rules of RFC 6455 §5.4–5.6:
/// fragmentation order, control frames between fragments, UTF-8 of text (incrementally, so an
/// invalid byte fails the connection before the message ends) and the message size limit
/// (checked from frame headers, before any payload is buffered). Frame syntax, and which
/// reserved bits may be set at all, is the decoder's job (`MessageReader` runs both).
public struct MessageAssembler {
    public let maxMessageBytes: Int
    /// The message being assembled; complete after a `.message` event.
    public private(set) var message: [UInt8] = []
    /// The current control frame's payload (at most 125 bytes).
    public private(set) var control: [UInt8] = []

    private var messageOpcode: Opcode? = nil
    private var compressed = false
    private var validatesUTF8 = false
    private var utf8 = UTF8Validator()
    private var frameIsControl = false
    private var controlOpcode = Opcode.ping
    private var frameFin = false

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Most bytes a message may take on the wire. Deflate can expand incompressible data a
    /// little (stored blocks), so a compressed message gets some slack; its inflated size is
    /// held to `maxMessageBytes` by the decompressor.
    private var wireLimit: Int {
        guard compressed else { return maxMessageBytes }
        let slack = maxMessageBytes / 64 + 1024
        // Saturate: `--max-message-bytes` may be as large as Int.max.
        return maxMessageBytes > Int.max - slack ? Int.max : maxMessageBytes + slack
    }

    /// Doubles `capacity` for a message that needs `needed` bytes, but never past `limit`.
    /// Written so it cannot overflow: `capacity * 2` trapped on 32-bit ARM once a message
    /// (up to 1 GiB, more with deflate's slack) had grown past 2^30. `needed` is at most
    /// `limit`: `frameStart` refused any frame that would take the message past it.
    static func grownCapacity(_ capacity: Int, needed: Int, limit: Int) -> Int {
        guard capacity < limit else { return max(needed, capacity) }
        return max(needed, capacity + min(capacity, limit - capacity))
    }

    /// True while a fragmented message is open.
    public var isInMessage: Bool { messageOpcode != nil }

    /// Starts a frame whose header the decoder accepted (RSV1 only when deflate was negotiated).
    public mutating func frameStart(_ header: FrameHeader) throws(ProtocolError) {
        let rsv1 = header.reservedBits & FrameHeader.rsv1 != 0
        if header.opcode.isControl {
            // RFC 7692 §6.1: RSV1 is set only on the first frame of a data message.
            if rsv1 { throw .reservedBitsSet }
            frameIsControl = true
            controlOpcode = header.opcode
            control.removeAll(keepingCapacity: true)
            return
        }
        frameIsControl = false
        if header.opcode == .continuation {
            // RFC 6455 §5.4: a continuation frame needs an open fragmented message.
            guard messageOpcode != nil else { throw .unexpectedContinuation }
            if rsv1 { throw .reservedBitsSet }
        } else {
            // RFC 6455 §5.4: fragments of one message are not interleaved with another.
            guard messageOpcode == nil else { throw .expectedContinuation }
            messageOpcode = header.opcode
            compressed = rsv1
            validatesUTF8 = header.opcode == .text && !rsv1
            utf8 = UTF8Validator()
            message.removeAll(keepingCapacity: true)
        }
        // Compare in 64 bits: a 2^63 length must neither overflow nor allocate.
        if header.payloadLength > UInt64(wireLimit - message.count) { throw .messageTooBig }
        frameFin = header.fin
    }

    /// Appends a chunk of the current frame's payload to `message` (or `control`);
    /// `restOfFrame` is how much of the frame's payload follows this chunk.
    public mutating func payload(_ chunk: UnsafeRawBufferPointer, restOfFrame: UInt64) throws(ProtocolError) {
        if frameIsControl {
            control.append(contentsOf: chunk)
            return
        }
        if validatesUTF8 && !utf8.consume(chunk) { throw .invalidUTF8 }
        // One allocation for the rest of the frame instead of regrowing chunk by chunk. A
        // declared length is only a claim: reserve at most 1 MiB ahead of the bytes that arrive.
        // (chunk + rest is at most 2^63 + a buffer: no overflow in 64 bits.)
        let needed = message.count + Int(min(UInt64(chunk.count) + restOfFrame, 1 << 20))
        if needed > message.capacity { message.reserveCapacity(Self.grownCapacity(message.capacity, needed: needed, limit: wireLimit)) }
        message.append(contentsOf: chunk)
    }

    /// Checks, without copying, the entire payload of a frame that is a whole message; the
    /// caller keeps the bytes and `message` stays empty (`MessageReader` decides when).
    public mutating func validateInPlace(_ payload: UnsafeRawBufferPointer) throws(ProtocolError) {
        if validatesUTF8 && !utf8.consume(payload) { throw .invalidUTF8 }
    }

    /// Ends the current frame; returns an event when it completed a message or was a control frame.
    public mutating func frameEnd() throws(ProtocolError) -> InboundEvent? {
        if frameIsControl {
            switch controlOpcode {
            case .ping: return .ping
            case .pong: return .pong
            default: return .close(try ClosePayload.code(of: control))
            }
        }
        guard frameFin, let opcode = messageOpcode else { return nil }
        if validatesUTF8 && !utf8.isComplete { throw .invalidUTF8 }
        messageOpcode = nil
        return .message(opcode, compressed: compressed)
    }

    /// The reason bytes of the last close frame.
    public var closeReason: ArraySlice<UInt8> { control.count > 2 ? control[2...] : [] }

    /// Bytes of the message being assembled that arrived so far (what it has written to memory;
    /// capacity reserved ahead for a declared frame length is not touched until bytes arrive).
    public var heldBytes: Int { message.count }

    /// Drops a large message buffer after use, so an idle connection does not keep its peak size.
    public mutating func releaseMessage(keepingUpTo limit: Int) {
        if message.capacity > limit { message = [] } else { message.removeAll(keepingCapacity: true) }
    }
}
