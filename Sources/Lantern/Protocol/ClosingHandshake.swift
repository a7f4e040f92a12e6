/// The closing handshake of RFC 6455 §5.5.1 and §7 as a value: which close frames have
/// crossed, and what each step means for the frames still to be written. The connection keeps
/// one per socket, changed only under its write lock.
public struct ClosingHandshake: Equatable, Sendable {
    public enum State: Equatable, Sendable {
        /// No close frame either way: data flows.
        case open
        /// Ours went out; the peer's is awaited. No data may follow ours (§5.5.1).
        case closeSent
        /// The peer's arrived and ours is owed "as soon as practical" (§5.5.1).
        case closeReceived
        /// Both crossed, or the stream ended: nothing more is written.
        case closed
    }

    public enum Event: Equatable, Sendable {
        /// The server wants to close (or to answer the peer's close).
        case serverCloses
        /// The peer's close frame arrived.
        case peerCloses
        /// A data or ping/pong frame is ready to go.
        case frameToSend
        /// The socket ended under us (failed write, shutdown): nothing can be sent any more.
        case streamEnded
    }

    public enum Action: Equatable, Sendable {
        /// Write the frame (for `.serverCloses`: our close frame).
        case send
        /// Nothing to write: the frame is dropped, or ours already went out.
        case nothing
    }

    public private(set) var state: State = .open
    /// Whether both close frames crossed (§7.1.1: the server may then close TCP at once).
    public private(set) var isComplete = false

    public init() {}

    /// Applies `event` and says whether to write the frame it is about.
    public mutating func handle(_ event: Event) -> Action {
        switch (state, event) {
        case (.open, .serverCloses):
            state = .closeSent
            return .send
        case (.open, .peerCloses):
            state = .closeReceived
            return .nothing
        case (.closeReceived, .serverCloses):
            state = .closed
            isComplete = true
            return .send
        case (.closeSent, .peerCloses):
            state = .closed
            isComplete = true
            return .nothing
        case (.open, .frameToSend), (.closeReceived, .frameToSend):
            return .send
        case (_, .streamEnded):
            state = .closed
            return .nothing
        case (.closeSent, _), (.closeReceived, .peerCloses), (.closed, _):
            return .nothing
        }
    }

    /// Whether our close frame is out (or can no longer be sent).
    public var hasSentClose: Bool { state == .closeSent || state == .closed }
}
