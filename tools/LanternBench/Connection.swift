import Lantern

/// One client connection's state and buffers. Owned by one worker thread.
final class Connection {
    enum State {
        case idle, backoff, connecting, handshaking, greeting, open, closing, dead
        var isConnecting: Bool { self == .connecting || self == .handshaking || self == .greeting }
    }

    /// Index in the worker's table and epoll token; also picks this connection's payload rotation.
    let id: Int
    let index: Int
    var fd: Int32 = -1
    var state = State.idle
    /// The epoll mask currently registered.
    var interest: UInt32 = 0
    let received = ByteBuffer(capacity: 16384)
    let outgoing = ByteBuffer(capacity: 4096)
    /// Payload of a fragmented message so far (server frames with FIN clear).
    let fragments = ByteBuffer(capacity: 256)
    var fragmentOpcode = Opcode.text
    var fragmentCompressed = false
    var inFragmentedMessage = false

    /// Waiting for the echo of payload `expected`, sent at `sentAt`.
    var awaiting = false
    var expected = 0
    var sentAt: UInt64 = 0
    /// When the current connect began (timeouts, churn cycle time); in back-off, when to retry.
    var startedAt: UInt64 = 0
    var sequence = 0

    var handshake: ClientHandshake?
    var deflate: ClientDeflate?

    init(id: Int, index: Int) {
        self.id = id
        self.index = index
    }

    /// Forgets everything about the current socket (which the caller has closed).
    func reset() {
        fd = -1
        interest = 0
        received.clear()
        outgoing.clear()
        fragments.clear()
        inFragmentedMessage = false
        awaiting = false
        handshake = nil
        deflate = nil
    }

    /// Appends one masked frame (RFC 6455 §5.3: every client frame is masked) to `outgoing`.
    func queueFrame(_ opcode: Opcode, compressed: Bool, payload: UnsafeRawBufferPointer, maskKey: UInt32) {
        let count = payload.count
        let out = outgoing.reserve(count + FrameHeader.maxEncodedLength)
        let header = FrameHeader(fin: true, reservedBits: compressed ? FrameHeader.rsv1 : 0, opcode: opcode,
                                 maskKey: maskKey, payloadLength: UInt64(count))
        let headerLength = header.encode(into: UnsafeMutableRawBufferPointer(start: out, count: FrameHeader.maxEncodedLength))
        if count > 0 {
            (out + headerLength).copyMemory(from: payload.baseAddress!, byteCount: count)
            Masking.apply(key: maskKey, offset: 0, to: UnsafeMutableRawBufferPointer(start: out + headerLength, count: count))
        }
        outgoing.end += headerLength + count
    }
}
