import Testing
@testable import Lantern

@Suite("ClosingHandshake")
struct ClosingHandshakeTests {
    typealias State = ClosingHandshake.State
    typealias Event = ClosingHandshake.Event

    /// Reaches `state` by the events that lead there from `.open`.
    static func machine(in state: State) -> ClosingHandshake {
        var m = ClosingHandshake()
        switch state {
        case .open: break
        case .closeSent: _ = m.handle(.serverCloses)
        case .closeReceived: _ = m.handle(.peerCloses)
        case .closed: _ = m.handle(.streamEnded)
        }
        #expect(m.state == state)
        return m
    }

    /// Every state against every event (RFC 6455 §5.5.1, §7.1.2–7.1.4): the state after it,
    /// whether the frame is written, and whether both close frames have then crossed.
    @Test("each event in each state", arguments: [
        (State.open, Event.serverCloses, State.closeSent, true, false),
        (.open, .peerCloses, .closeReceived, false, false),
        (.open, .frameToSend, .open, true, false),
        (.open, .streamEnded, .closed, false, false),
        (.closeSent, .serverCloses, .closeSent, false, false),  // one close frame only
        (.closeSent, .peerCloses, .closed, false, true),  // the peer's reply: done
        (.closeSent, .frameToSend, .closeSent, false, false),  // no data after our close
        (.closeSent, .streamEnded, .closed, false, false),
        (.closeReceived, .serverCloses, .closed, true, true),  // our reply: done
        (.closeReceived, .peerCloses, .closeReceived, false, false),
        (.closeReceived, .frameToSend, .closeReceived, true, false),  // §5.5.1: ours may wait for a message
        (.closeReceived, .streamEnded, .closed, false, false),
        (.closed, .serverCloses, .closed, false, false),
        (.closed, .peerCloses, .closed, false, false),
        (.closed, .frameToSend, .closed, false, false),
        (.closed, .streamEnded, .closed, false, false),
    ] as [(State, Event, State, Bool, Bool)])
    func table(from: State, event: Event, to: State, sends: Bool, complete: Bool) {
        var m = Self.machine(in: from)
        #expect(m.handle(event) == (sends ? .send : .nothing))
        #expect(m.state == to)
        #expect(m.isComplete == complete)
        #expect(m.hasSentClose == (to == .closeSent || to == .closed))
    }

    @Test("a whole handshake either way ends complete, and nothing is written after it")
    func wholeHandshakes() {
        for order in [[Event.serverCloses, .peerCloses], [.peerCloses, .serverCloses]] {
            var m = ClosingHandshake()
            let sent = order.map { m.handle($0) }
            #expect(sent.filter { $0 == .send }.count == 1, "exactly one close frame of ours: \(order)")
            #expect(m.state == .closed && m.isComplete)
            #expect(m.handle(.frameToSend) == .nothing)
        }
    }
}

@Suite("CloseReason")
struct CloseReasonTests {
    @Test("every reason the server closes with fits a close frame and names its code")
    func payloads() throws {
        let reasons: [CloseReason] = [.shuttingDown, .idleTimeout, .serverBusy, .slowConsumer, CloseReason(.invalidUTF8), CloseReason(.messageTooBig)]
        for reason in reasons {
            let payload = reason.payload
            #expect(payload.count >= 2 && payload.count <= 125)
            #expect(try ClosePayload.code(of: payload) == reason.code)
            #expect(Array(payload.dropFirst(2)) == reason.text.utf8Bytes)
        }
        #expect(CloseReason.shuttingDown.code == .goingAway && CloseReason.serverBusy.code == .tryAgainLater)
        #expect(CloseReason.slowConsumer.code == .policyViolation)
        #expect(CloseReason(ProtocolError.invalidUTF8).code == .invalidPayloadData)
    }

    @Test("a reply echoes the peer's code, and an empty close gets an empty one")
    func replies() {
        #expect(CloseReason.reply(to: .normalClosure).payload == [0x03, 0xE8])
        #expect(CloseReason.reply(to: CloseCode(rawValue: 4000)).payload == [0x0F, 0xA0])
        #expect(CloseReason.reply(to: nil).payload == [])
    }
}
