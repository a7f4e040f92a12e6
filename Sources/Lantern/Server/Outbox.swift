#if canImport(Glibc)
import Glibc
#endif

/// A message shared by every queue it was broadcast to (one copy of the bytes).
final class SharedMessage: @unchecked Sendable {
    let opcode: Opcode
    let bytes: [UInt8]
    init(opcode: Opcode, bytes: [UInt8]) {
        self.opcode = opcode
        self.bytes = bytes
    }
}

/// A connection's bounded outgoing queue, drained by its own writer thread.
/// Full means the peer is not keeping up: the caller closes it (1008) rather than buffer more.
final class Outbox: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var items: [SharedMessage] = []
    private var head = 0
    private var queuedBytes = 0
    private var closed = false
    let limitBytes: Int

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Queues a message: `.failed` when it would pass the limit (a slow consumer), `.closing`
    /// when the connection retired the queue.
    func push(_ message: SharedMessage) -> SendOutcome {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        if closed { return .closing }
        // One message always fits an empty queue, however large, so big messages still flow.
        // As a difference, so it cannot overflow when --max-queued-bytes is near Int.max (32-bit
        // ARM); `limitBytes - queuedBytes` is negative after one oversized message, never wider.
        if queuedBytes > 0 && message.bytes.count > limitBytes - queuedBytes { return .failed }
        items.append(message)
        queuedBytes += message.bytes.count
        pthread_cond_signal(condition)
        return .sent
    }

    /// Waits for the next message; nil once the queue is closed (pending messages are dropped).
    func pop() -> SharedMessage? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == items.count && !closed { pthread_cond_wait(condition, mutex) }
        if closed { return nil }
        let message = items[head]
        head += 1
        queuedBytes -= message.bytes.count
        if head == items.count || head > 64 {
            items.removeFirst(head)
            head = 0
        }
        return message
    }

    func close() {
        pthread_mutex_lock(mutex)
        closed = true
        items.removeAll()
        head = 0
        queuedBytes = 0
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
