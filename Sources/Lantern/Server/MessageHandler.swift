/// A complete message as a handler receives it (inflated and validated).
/// The bytes are valid only during the callback.
public struct Message {
    /// `.text` or `.binary`.
    public let opcode: Opcode
    public let bytes: UnsafeRawBufferPointer
}

/// What the server does with WebSocket traffic: the Swift form of the tutorial's
/// `handleMessage(ctx, message)` hook. Generic (never an existential), so calls are direct
/// and the code stays valid in Embedded Swift.
public protocol MessageHandler: Sendable {
    /// True when the handler sends to connections other than the one that spoke (broadcast):
    /// every connection then gets a bounded outgoing queue and its own writer, so a stalled
    /// peer can never block the sender.
    var fansOut: Bool { get }
    /// A connection opened (after the greeting, if one is configured).
    func opened(_ session: Session)
    /// A message arrived.
    func received(_ message: Message, on session: Session)
    /// The connection ended with `code` (1006 when TCP ended without a close frame).
    func closed(_ session: Session, code: CloseCode)
}

extension MessageHandler {
    public var fansOut: Bool { false }
    public func opened(_ session: Session) {}
    public func closed(_ session: Session, code: CloseCode) {}
}

/// `--mode echo`: every message goes back to its sender, same opcode, same bytes.
public struct EchoHandler: MessageHandler {
    public init() {}
    public func received(_ message: Message, on session: Session) {
        session.send(message.opcode, message.bytes)
    }
}

/// `--mode broadcast`: a LAN chat; every message goes to every open connection, the sender
/// included (so a page sees its own message arrive as delivery confirmation).
public struct BroadcastHandler: MessageHandler {
    public init() {}
    public var fansOut: Bool { true }
    public func received(_ message: Message, on session: Session) {
        session.broadcast(message.opcode, message.bytes)
    }
}

/// The handler `lantern --mode` picks. One type for every mode means the server's generic code
/// is specialised once, not once per handler (it matters for the Embedded build's size).
public struct BuiltInHandler: MessageHandler {
    public let mode: Configuration.Mode

    public init(mode: Configuration.Mode) { self.mode = mode }

    public var fansOut: Bool { mode == .broadcast }

    public func received(_ message: Message, on session: Session) {
        switch mode {
        case .echo: EchoHandler().received(message, on: session)
        case .broadcast: BroadcastHandler().received(message, on: session)
        case .exec: deliver(message, on: session)
        }
    }
}

/// One open WebSocket as a handler sees it: reply, broadcast, or close.
public struct Session {
    let handle: ConnectionHandle
    let hub: Hub
    /// Exec mode: the program this connection runs (nil otherwise, or when it failed to start).
    var program: ProgramLink? = nil

    /// A number unique to this connection within the process.
    public var id: UInt64 { handle.id }

    /// Sends a message to this connection (compressed if negotiated); false if it is gone.
    @discardableResult
    public func send(_ opcode: Opcode, _ bytes: UnsafeRawBufferPointer) -> Bool {
        handle.sendMessage(opcode, bytes)
    }

    /// Sends a message to every open connection, in the same order for all of them.
    public func broadcast(_ opcode: Opcode, _ bytes: UnsafeRawBufferPointer) {
        hub.broadcast(opcode, bytes)
    }

    /// Starts the closing handshake (RFC 6455 §7.1.2).
    public func close(_ code: CloseCode, reason: StaticString = "") {
        handle.sendClose(CloseReason(code, reason))
    }
}

/// Fan-out to every registered connection.
final class Hub: @unchecked Sendable {
    private let registry: Registry
    private let log: Log
    /// Serialises broadcasts so every queue receives them in one global order.
    private let order = Lock()

    init(registry: Registry, log: Log) {
        self.registry = registry
        self.log = log
    }

    func broadcast(_ opcode: Opcode, _ bytes: UnsafeRawBufferPointer) {
        let message = SharedMessage(opcode: opcode, bytes: Array(bytes))
        order.locked {
            for handle in registry.snapshot() where handle.enqueue(message) == .failed {
                log(.warn, "ws-slow id=\(handle.id): outgoing queue full, closing 1008")
                handle.failSlowConsumer()
            }
        }
    }
}
