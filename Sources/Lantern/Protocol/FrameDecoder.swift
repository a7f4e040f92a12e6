/// One step of frame decoding.
public enum FrameEvent {
    /// A frame header was read; its payload (if any) follows as `.payload` events.
    case frameStart(FrameHeader)
    /// A chunk of the current frame's payload, already unmasked in place.
    case payload(UnsafeMutableRawBufferPointer)
    /// The current frame's payload is complete.
    case frameEnd
}

/// Incremental frame decoder: turns a byte stream into frame events without buffering payloads,
/// so a frame's bytes can be validated (UTF-8, limits) while the frame is still arriving.
public struct FrameDecoder {
    public var rules: FrameRules
    private var remaining: UInt64 = 0
    private var maskKey: UInt32 = 0
    private var maskOffset = 0
    private var inFrame = false

    public init(rules: FrameRules = FrameRules()) { self.rules = rules }

    /// Payload bytes of the current frame not yet delivered (0 between frames).
    public var remainingPayload: UInt64 { inFrame ? remaining : 0 }

    /// Decodes the next event from the start of `bytes`, unmasking payload in place.
    /// Returns nil when `bytes` holds too little for the next event, otherwise the event and
    /// the number of bytes it consumed (0 for `.frameEnd`).
    public mutating func next(_ bytes: UnsafeMutableRawBufferPointer) throws(ProtocolError) -> (FrameEvent, Int)? {
        if inFrame {
            if remaining == 0 {
                inFrame = false
                return (.frameEnd, 0)
            }
            guard bytes.count > 0, let base = bytes.baseAddress else { return nil }
            let n = Int(min(UInt64(bytes.count), remaining))
            let chunk = UnsafeMutableRawBufferPointer(start: base, count: n)
            if maskKey != 0 { maskOffset = Masking.apply(key: maskKey, offset: maskOffset, to: chunk) }
            remaining -= UInt64(n)
            return (.payload(chunk), n)
        }
        guard let (header, length) = try FrameHeader.parse(UnsafeRawBufferPointer(bytes), rules: rules) else { return nil }
        inFrame = true
        remaining = header.payloadLength
        maskKey = header.maskKey ?? 0
        maskOffset = 0
        return (.frameStart(header), length)
    }
}
