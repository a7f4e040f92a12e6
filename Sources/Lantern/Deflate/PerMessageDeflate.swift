/// One connection's permessage-deflate state (RFC 7692). zlib streams are created only when a
/// compressed message actually flows, and freed right after it when no context is kept, so an
/// idle connection costs nothing extra.
final class PerMessageDeflate {
    let parameters: DeflateParameters
    private let policy: DeflatePolicy
    private let budget: DeflateBudget
    private var compressor: Compressor?
    private var decompressor: Decompressor?
    /// Reused output buffers (kept only while small).
    private var inflated: [UInt8] = []

    /// Whose memory the inflater is: promised at the handshake (`DeflateBudget.reserve`), or
    /// with no promise when none was made.
    private let inflaterAccount: DeflateBudget.Account

    init(parameters: DeflateParameters, policy: DeflatePolicy, budget: DeflateBudget, inflaterAccount: DeflateBudget.Account? = nil) {
        self.parameters = parameters
        self.policy = policy
        self.budget = budget
        self.inflaterAccount = inflaterAccount ?? DeflateBudget.Account(budget: budget)
    }

    deinit {
        decompressor = nil  // freed first, so its memory goes back to the promise...
        inflaterAccount.release()  // ...which then goes back to the budget
    }

    /// Inflates a received message; UTF-8 of text is validated on the inflated bytes as they appear.
    /// The returned buffer is valid until the next call.
    func inflate(_ message: UnsafeRawBufferPointer, isText: Bool, limit: Int) throws(ProtocolError) -> [UInt8] {
        if decompressor == nil {
            decompressor = Decompressor(windowBits: parameters.receiveWindowBits, account: inflaterAccount)
        }
        guard let decompressor else { throw .compressionError }
        var utf8 = UTF8Validator()
        var output = inflated
        inflated = []
        defer {
            if parameters.receiveNoContextTakeover { self.decompressor = nil }
        }
        let result = Result { () throws(ProtocolError) in
            try decompressor.decompress(message, limit: limit, into: &output) { chunk in !isText || utf8.consume(chunk) }
        }
        if case .failure(let error) = result {
            self.decompressor = nil  // its state is undefined after a failure
            throw error
        }
        if isText && !utf8.isComplete { throw .invalidUTF8 }
        return output
    }

    /// Hands back the buffer `inflate` returned so its memory is reused (if not too large).
    func recycle(_ buffer: [UInt8]) {
        // Without context takeover nothing is kept between messages, buffers included: an idle
        // connection then costs what one without deflate does.
        if buffer.capacity <= 8 << 10 && !parameters.receiveNoContextTakeover { inflated = buffer }
    }

    /// The last output of `deflate` (send side: touched only under the connection's write lock;
    /// the receive side, `inflate`, belongs to the connection's own thread).
    private(set) var compressed: [UInt8] = []

    /// Compresses an outgoing message into `compressed`; false means "send it uncompressed"
    /// (too small, window 8, over budget, or zlib failed).
    func deflate(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= policy.thresholdBytes, parameters.sendMaxWindowBits >= 9 else { return false }
        if compressor == nil {
            let window = parameters.sendMaxWindowBits
            guard budget.canAfford(Compressor.estimatedBytes(windowBits: window, memLevel: policy.memLevel)) else { return false }
            compressor = Compressor(windowBits: window, memLevel: policy.memLevel, level: policy.level, budget: budget)
        }
        guard let compressor else { return false }
        let ok = compressor.compress(payload, into: &compressed)
        if !ok || parameters.sendNoContextTakeover {
            self.compressor = nil
        }
        return ok
    }

    /// Called by the sender (under the connection's write lock) once `compressed` is on the wire:
    /// drops it when large, or always when no context is kept.
    func sent() {
        if compressed.capacity > 8 << 10 || parameters.sendNoContextTakeover { compressed = [] }
    }
}
