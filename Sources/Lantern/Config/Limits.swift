/// Every bound the server enforces, in one value. Defaults suit a small box (a router, a Pi).
public struct Limits: Sendable {
    /// Largest message (after reassembly and decompression), bytes. RFC 6455 §10.4.
    public var maxMessageBytes = 1 << 20
    /// Largest HTTP request head, bytes (431 beyond it).
    public var maxHeaderBytes = 8 << 10
    /// Open connections (HTTP and WebSocket) before new ones get 503.
    public var maxConnections = 512
    /// Time for a client to send a complete request head, ms.
    public var handshakeTimeoutMs = 5_000
    /// Silence after which the server pings, ms (0 = never).
    public var pingIntervalMs = 30_000
    /// Silence after which a connection is closed, ms (must exceed the ping interval).
    public var idleTimeoutMs = 60_000
    /// How long a write may stall on a peer that does not read, ms.
    public var sendTimeoutMs = 10_000
    /// Idle HTTP keep-alive connections are closed after this, ms.
    public var keepAliveTimeoutMs = 15_000
    /// Bytes of messages still being received, all connections together; the connection that
    /// would pass it is closed with 1013 (try again later).
    public var maxBufferedBytes = 32 << 20
    /// Bytes a connection may have waiting to be sent in fan-out mode before it is closed (1008).
    public var maxQueuedBytes = 1 << 20
    /// Time to wait for the peer's side of a close handshake, ms.
    public var closeTimeoutMs = 1_000
    /// A spare worker thread that has waited this long without a connection exits, ms.
    public var workerIdleMs = 2_000
    /// Before sleeping in `recv` for a client's next request or message, keep checking for it
    /// this long, yielding the core to every other runnable thread between checks, µs (0 = sleep
    /// at once). A reply that comes within it is read without a sleep and a cross-core wake-up.
    public var busyPollMicroseconds = 100

    /// A program whose stdin was closed gets this long to exit before SIGTERM, and as long again
    /// before SIGKILL, ms.
    public var programGraceMs = 1_000

    public init() {}
}
