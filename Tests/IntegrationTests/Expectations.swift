import Foundation
import Testing

/// Waiting for a condition the tests cannot be told about (a gauge in /metrics, a thread count).
enum Poll {
    /// Checks `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    static func until(timeout: TimeInterval = 5, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            if try condition() { return true }
            if Date() >= deadline { return false }
            usleep(20_000)
        }
    }
}

/// Shared assertions over a server's closing behaviour.
enum Expect {
    /// Reads the server's close frame and checks its code is one of `codes` (nil = empty payload allowed),
    /// that its reason is valid UTF-8, and that TCP then closes with no byte after the close frame.
    @discardableResult
    static func serverCloses(_ client: RawClient, codes: [UInt16?], timeout: TimeInterval = 5,
                             replyToClose: Bool = false,
                             sourceLocation: SourceLocation = #_sourceLocation) -> Frame? {
        let frame: Frame
        do {
            frame = try client.readCloseFrame(timeout: timeout)
        } catch {
            Issue.record("expected a close frame with code \(describe(codes)), got error: \(error)", sourceLocation: sourceLocation)
            return nil
        }
        #expect(frame.fin, "close frame must have FIN set", sourceLocation: sourceLocation)
        #expect(frame.payload.count != 1 && frame.payload.count <= 125, "close payload length \(frame.payload.count)", sourceLocation: sourceLocation)
        #expect(codes.contains(frame.closeCode), "close code \(frame.closeCode.map(String.init) ?? "none"), expected \(describe(codes))", sourceLocation: sourceLocation)
        if frame.payload.count > 2 {
            #expect(String(validating: frame.payload[2...], as: UTF8.self) != nil, "close reason is not UTF-8", sourceLocation: sourceLocation)
        }
        if replyToClose { try? client.sendClose(code: frame.closeCode) }
        serverClosesTCP(client, timeout: timeout, sourceLocation: sourceLocation)
        return frame
    }

    /// Checks that the server closes TCP within `timeout` and sends nothing more before that.
    static func serverClosesTCP(_ client: RawClient, timeout: TimeInterval = 5,
                                sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let rest = try client.readUntilEOF(timeout: timeout)
            #expect(rest.isEmpty, "\(rest.count) bytes after the server's close frame: \(rest.prefix(16).map { String($0, radix: 16) })", sourceLocation: sourceLocation)
        } catch {
            Issue.record("server did not close TCP within \(timeout) s: \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A fresh client on `server` still completes a handshake and gets an echo back.
    static func serverStillEchoes(_ server: ServerProcess, skipGreeting: Bool = false,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let client = try RawClient.webSocket(port: server.port)
            if skipGreeting { _ = try client.readMessage() }
            let text = Array("still alive \(UInt32.random(in: 0...UInt32.max))".utf8)
            try client.sendFrame(opcode: Op.text, payload: text)
            let reply = try client.readMessage()
            #expect(reply.opcode == Op.text && reply.payload == text, "echo after the event", sourceLocation: sourceLocation)
            try client.sendClose(code: 1000)
            serverCloses(client, codes: [1000], sourceLocation: sourceLocation)
        } catch {
            Issue.record("a new client could not be served: \(error); exit status \(server.exitStatus.map(String.init) ?? "running or signalled"); stderr tail: \(server.stderr.text.suffix(500))", sourceLocation: sourceLocation)
        }
    }

    /// Compares byte strings, reporting lengths and the first differing offset instead of dumping them.
    static func bytes(_ actual: [UInt8], equal expected: [UInt8], _ what: String,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        guard actual != expected else { return }
        let offset = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
        Issue.record("\(what): got \(actual.count) bytes, expected \(expected.count); first difference at byte \(offset)", sourceLocation: sourceLocation)
    }

    private static func describe(_ codes: [UInt16?]) -> String {
        codes.map { $0.map(String.init) ?? "none" }.joined(separator: " or ")
    }
}

/// Deterministic payloads of an exact size.
enum Payload {
    /// ASCII text of exactly `count` bytes.
    static func text(_ count: Int) -> [UInt8] {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789 ".utf8)
        return (0..<count).map { alphabet[$0 % alphabet.count] }
    }

    /// Bytes of every value, `count` long (not valid UTF-8: proves binary is not validated).
    static func binary(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ ($0 >> 8)) }
    }
}
