/// Process-wide account of memory held by messages still being received, and by inflated
/// messages while they are answered. A client may keep a message half-sent for as long as it
/// answers pings, or an inflated one for the send timeout by not reading its echo, so each
/// connection can hold up to `--max-message-bytes`; many of them at once would outgrow a small
/// box (512 x 1 MiB). Each connection charges what its assembler holds plus an inflated message
/// in hand, and the one that would pass the limit is closed with 1013, try again later, instead
/// of the process running out of memory.
final class MessageBudget: @unchecked Sendable {
    /// Each connection's first 64 KiB are not charged: small messages always flow, so filling
    /// the budget with a few large half-sent messages cannot shut out ordinary traffic (and
    /// the uncharged part is bounded by --max-connections).
    static let unchargedBytesPerConnection = 64 << 10

    let limitBytes: Int
    private let lock = Lock()
    private var heldBytes = 0

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// Moves a connection's charge from `charged` to `held` bytes; false (charge unchanged) when
    /// growing would pass the limit.
    func update(from charged: Int, to held: Int) -> Bool {
        lock.locked {
            // As a difference: `heldBytes + growth` can pass Int.max on 32-bit ARM, where the
            // limit may be 2^31 - 1. Neither side overflows: 0 <= heldBytes <= limitBytes.
            if held > charged && held - charged > limitBytes - heldBytes { return false }
            heldBytes += held - charged
            return true
        }
    }
}
