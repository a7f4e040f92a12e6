import Foundation
import Testing

/// Greeting, echo of every length encoding, fragmentation, ping/pong (spec items 1–3).
@Suite(.timeLimit(.minutes(1)))
struct EchoTests {
    @Test func greetingIsTheFirstTextFrame() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.webSocket()
        let frame = try client.readFrame()
        #expect(frame.opcode == Op.text)
        #expect(frame.fin)
        #expect(!frame.masked)
        #expect(String(decoding: frame.payload, as: UTF8.self) == "Welcome to simple echo server")
        // The greeting does not disturb echo afterwards.
        try client.sendFrame(opcode: Op.text, payload: Array("after greeting".utf8))
        let reply = try client.readMessage()
        #expect(reply.payload == Array("after greeting".utf8))
    }

    @Test func customGreeting() throws {
        let server = try ServerProcess.start(["--greeting", "hi ✓"])
        defer { server.stop() }
        let client = try server.webSocket()
        let greeting = try client.readMessage()
        #expect(greeting.opcode == Op.text && greeting.payload == Array("hi ✓".utf8))
    }

    /// Sizes straddling every length encoding (7-bit, 16-bit, 64-bit) up to the default limit, inclusive.
    @Test(arguments: [Op.text, Op.binary], [0, 1, 125, 126, 65535, 65536, 1 << 20])
    func echoesOneMessage(opcode: UInt8, size: Int) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket(timeout: 30)
        let payload = opcode == Op.text ? Payload.text(size) : Payload.binary(size)
        try client.sendFrame(opcode: opcode, payload: payload)
        let reply = try client.readMessage()
        #expect(reply.opcode == opcode)
        Expect.bytes(reply.payload, equal: payload, "echoed payload")
        try client.sendClose(code: 1000)
        Expect.serverCloses(client, codes: [1000])
    }

    @Test func echoesMultibyteUTF8() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        let text = Array("κόσμε · héllo · ✓ · 🚀 · \u{10FFFF} · \u{FFFF}".utf8)
        try client.sendFrame(opcode: Op.text, payload: text)
        #expect(try client.readMessage().payload == text)
    }

    @Test func echoesManyMessagesInOrderOnOneConnection() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        // All sent in one write: the server must split frames correctly out of one read.
        var batch: [UInt8] = []
        for i in 0..<50 { batch += RawClient.encodeFrame(opcode: i % 2 == 0 ? Op.text : Op.binary, payload: Array("message \(i)".utf8)) }
        try client.send(batch)
        for i in 0..<50 {
            let reply = try client.readMessage()
            #expect(reply.opcode == (i % 2 == 0 ? Op.text : Op.binary))
            #expect(reply.payload == Array("message \(i)".utf8))
        }
    }

    /// The client answers at once, so with a 10 ms window every request head, message, split
    /// frame, close and vanished peer reaches the server while it polls, not while it sleeps.
    @Test(arguments: ["0", "10000"])
    func busyPollingKeepsEverythingInOrder(microseconds: String) throws {
        let server = try ServerProcess.start(["--greeting", "", "--busy-poll-us", microseconds])
        defer { server.stop() }
        let client = try server.webSocket()
        for i in 0..<200 {
            let payload = i % 3 == 0 ? Payload.binary(i * 37) : Array("message \(i)".utf8)
            let frame = RawClient.encodeFrame(opcode: i % 3 == 0 ? Op.binary : Op.text, payload: payload)
            if i % 10 == 9 {
                for byte in frame { try client.send([byte]) }
            } else {
                try client.send(frame)
            }
            let reply = try client.readMessage()
            Expect.bytes(reply.payload, equal: payload, "echo \(i)")
        }
        try client.sendClose(code: 1000)
        Expect.serverCloses(client, codes: [1000])

        let dropped = try server.webSocket()
        try dropped.sendFrame(opcode: Op.text, payload: Array("last words".utf8))
        #expect(try dropped.readMessage().payload == Array("last words".utf8))
        dropped.close()
        #expect(try Poll.until {
            let m = try Ops.metrics(server.port)
            return m["lantern_websocket_closes_total{code=\"1006\"}"] == 1 && m["lantern_websocket_closes_total{code=\"1000\"}"] == 1
        }, "the clean close and the dropped peer were not both counted")
        #expect(try Ops.metrics(server.port)["lantern_messages_received_total"] == 201)
    }

    @Test func twentyClientsEchoIndependently() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let clients = try (0..<20).map { _ in try server.webSocket() }
        // Interleave: every client sends before any reads, so a server serving one at a time would stall.
        for (i, client) in clients.enumerated() {
            try client.sendFrame(fin: false, opcode: Op.text, payload: Array("client ".utf8))
            try client.sendFrame(opcode: Op.continuation, payload: Array("\(i)".utf8))
        }
        for (i, client) in clients.enumerated() {
            #expect(try client.readMessage().payload == Array("client \(i)".utf8))
        }
        #expect(server.stderrLine(containing: ["ws-open", "open=20"]) != nil)
    }

    @Test func frameSentByteByByteIsEchoed() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        let payload = Payload.text(300)  // 16-bit length
        for byte in RawClient.encodeFrame(opcode: Op.text, payload: payload) { try client.send([byte]) }
        Expect.bytes(try client.readMessage().payload, equal: payload, "echo of a frame sent byte by byte")
    }

    @Test func fragmentedTextIsEchoedReassembled() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        // "héllo ✓" with the 2-byte é and the 3-byte ✓ split across fragments.
        let whole = Array("héllo ✓ world".utf8)
        let parts = [Array(whole[0..<2]), Array(whole[2..<8]), Array(whole[8...])]
        try client.sendFrame(fin: false, opcode: Op.text, payload: parts[0])
        try client.sendFrame(fin: false, opcode: Op.continuation, payload: parts[1])
        try client.sendFrame(fin: true, opcode: Op.continuation, payload: parts[2])
        let reply = try client.readMessage()
        #expect(reply.opcode == Op.text)
        #expect(reply.payload == whole)
    }

    @Test func fragmentedBinaryWithEmptyFragmentsIsEchoed() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(fin: false, opcode: Op.binary, payload: [])
        try client.sendFrame(fin: false, opcode: Op.continuation, payload: [0, 1, 2])
        try client.sendFrame(fin: true, opcode: Op.continuation, payload: [])
        let reply = try client.readMessage()
        #expect(reply.opcode == Op.binary && reply.payload == [0, 1, 2])
    }

    @Test func pingInsideFragmentedMessageIsAnsweredFirst() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(fin: false, opcode: Op.text, payload: Array("frag".utf8))
        try client.sendFrame(opcode: Op.ping, payload: Array("ping payload".utf8))
        // The pong must come now, before the message is complete (RFC 6455 §5.4: control frames may be interleaved).
        let pong = try client.readFrame()
        #expect(pong.opcode == Op.pong && pong.fin)
        #expect(pong.payload == Array("ping payload".utf8))
        try client.sendFrame(fin: false, opcode: Op.continuation, payload: Array("ment".utf8))
        try client.sendFrame(fin: true, opcode: Op.continuation, payload: Array("ed".utf8))
        let reply = try client.readMessage()
        #expect(reply.opcode == Op.text && reply.payload == Array("fragmented".utf8))
    }

    @Test(arguments: [0, 1, 125])
    func pingIsAnsweredWithPongOfSamePayload(size: Int) throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        let payload = Payload.binary(size)
        try client.sendFrame(opcode: Op.ping, payload: payload)
        let pong = try client.readFrame()
        #expect(pong.opcode == Op.pong && pong.fin && !pong.masked)
        #expect(pong.payload == payload)
    }

    @Test func unsolicitedPongIsIgnored() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(opcode: Op.pong, payload: Array("unsolicited".utf8))
        try client.sendFrame(opcode: Op.text, payload: Array("next".utf8))
        let reply = try client.readMessage()
        #expect(reply.payload == Array("next".utf8))
    }

    @Test func messageExactlyAtConfiguredLimitIsEchoed() throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-message-bytes", "1000"])
        defer { server.stop() }
        let client = try server.webSocket()
        try client.sendFrame(opcode: Op.binary, payload: Payload.binary(1000))
        Expect.bytes(try client.readMessage().payload, equal: Payload.binary(1000), "1000-byte echo")
        // Fragmented, 400 + 600 = 1000: still allowed.
        try client.sendFrame(fin: false, opcode: Op.text, payload: Payload.text(400))
        try client.sendFrame(fin: true, opcode: Op.continuation, payload: Payload.text(600))
        #expect(try client.readMessage().payload.count == 1000)
    }

    /// RFC 6455 §1.3's sample key gets the RFC's literal accept value from the server: checked
    /// against the published string, not against the harness's own SHA-1.
    @Test func serverAnswersTheRFCSampleKey() throws {
        let server = try ServerProcess.start()
        defer { server.stop() }
        let client = try server.connect()
        try client.sendRequest("GET /ws HTTP/1.1", headers: [
            "Host: 127.0.0.1:\(server.port)", "Upgrade: websocket", "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"])
        let response = try client.readHTTPResponse(bodyless: true)
        #expect(response.status == 101)
        #expect(response.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }
}
