import Foundation
import Glibc
import Testing

// `--mode broadcast` (issue 6): every message reaches every open connection exactly once, in
// one global order; a client that stops reading is dropped without slowing the others.

/// A value shared between test threads, guarded by a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock(); defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { with { $0 } }
}

/// Hands a non-Sendable object (a `RawClient`) to exactly one other thread.
struct Handoff<T>: @unchecked Sendable { let value: T }

/// Plain threads (blocking readers must not share a small pool) joined with a deadline.
final class ThreadGroup: @unchecked Sendable {
    private let group = DispatchGroup()
    func spawn(_ body: @escaping @Sendable () -> Void) {
        group.enter()
        let group = self.group
        let thread = Thread { body(); group.leave() }
        thread.stackSize = 1 << 20
        thread.start()
    }
    /// Whether every thread finished within `timeout`.
    func join(timeout: TimeInterval) -> Bool { group.wait(timeout: .now() + timeout) == .success }
}

/// CLOCK_MONOTONIC in nanoseconds (the same clock in every thread of this process).
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Resident set size of `pid` in bytes (VmRSS; under emulation the guest's share, see
/// `ProcStat.residentKB`), 0 if unreadable.
func residentBytes(of pid: Int32, caller: String = #function) -> Int {
    (ProcStat.residentKB(pid, caller: caller) ?? 0) * 1024
}

/// A WebSocket client that sets a small receive buffer *before* connecting (so the window it
/// advertises is small from the SYN on) and then never reads until told to.
final class StalledClient {
    private let client: RawClient
    var fd: Int32 { client.fd }

    init(port: UInt16, receiveBufferBytes: Int32) throws {
        client = try RawClient(port: port, timeout: 5, receiveBufferBytes: receiveBufferBytes)
        // The head is read byte by byte with plain recv below: bound each one.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let key = RawClient.makeKey()
        let request = "GET /ws HTTP/1.1\r\n" + RawClient.upgradeHeaders(port: port, key: key).map { $0 + "\r\n" }.joined() + "\r\n"
        try client.send(Array(request.utf8))
        // Read the response head byte by byte so that no frame is consumed with it.
        var head: [UInt8] = []
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            var byte: UInt8 = 0
            guard recv(fd, &byte, 1, 0) == 1 else { throw ClientError.malformed("no 101 response: \(String(decoding: head, as: UTF8.self))") }
            head.append(byte)
        }
        guard String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw ClientError.malformed("expected 101: \(String(decoding: head, as: UTF8.self))")
        }
    }

    /// Reads everything until the server ends TCP (FIN or RST) or `timeout` passes.
    func drain(timeout: TimeInterval) -> (bytes: [UInt8], ended: Bool) {
        let deadline = Date(timeIntervalSinceNow: timeout)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 100) <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return (bytes, true) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return (bytes, true)  // ECONNRESET: ended too
            }
            bytes += chunk[0..<n]
        }
        return (bytes, false)
    }

    /// Splits server frames out of `bytes`: (opcode, payload) of every complete frame, and
    /// whether the bytes end inside a frame (a write cut short by the server's shutdown).
    static func frames(in bytes: [UInt8]) -> (frames: [(opcode: UInt8, payload: ArraySlice<UInt8>)], truncated: Bool) {
        var frames: [(UInt8, ArraySlice<UInt8>)] = []
        var i = 0
        while i < bytes.count {
            guard i + 2 <= bytes.count else { return (frames, true) }
            var length = Int(bytes[i + 1] & 0x7F), header = 2
            if length == 126 {
                guard i + 4 <= bytes.count else { return (frames, true) }
                length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3]); header = 4
            } else if length == 127 {
                guard i + 10 <= bytes.count else { return (frames, true) }
                length = bytes[(i + 2)..<(i + 10)].reduce(0) { $0 << 8 | Int($1) }; header = 10
            }
            guard i + header + length <= bytes.count else { return (frames, true) }
            frames.append((bytes[i] & 0x0F, bytes[(i + header)..<(i + header + length)]))
            i += header + length
        }
        return (frames, false)
    }
}

@Suite(.timeLimit(.minutes(2)))
struct BroadcastTests {
    @Test func fiftyClientsReceiveEveryMessageOnceInOneOrder() throws {
        let server = try ServerProcess.start(["--mode", "broadcast", "--greeting", ""])
        defer { server.stop() }
        let clientCount = 50, senderCount = 5, perSender = 40
        let total = senderCount * perSender
        let clients = try (0..<clientCount).map { _ in try server.webSocket(timeout: 30) }
        // A client is registered just after its 101 goes out: wait until all 50 are, or an
        // early broadcast could legitimately miss the last one.
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_connections_open"] == clientCount })

        let received = (0..<clientCount).map { _ in Locked<[String]>([]) }
        let failures = Locked<[String]>([])
        let threads = ThreadGroup()
        for (i, client) in clients.enumerated() {
            let client = Handoff(value: client), inbox = received[i]
            threads.spawn {
                do {
                    for _ in 0..<total {
                        let message = try client.value.readMessage(timeout: 30)
                        if message.opcode != Op.text { failures.with { $0.append("client \(i): opcode \(message.opcode)") } }
                        inbox.with { $0.append(String(decoding: message.payload, as: UTF8.self)) }
                    }
                } catch {
                    failures.with { $0.append("client \(i) after \(inbox.current.count) messages: \(error)") }
                }
            }
        }
        // Senders are ordinary members of the room (every 10th client); they start together.
        let go = DispatchSemaphore(value: 0)
        for s in 0..<senderCount {
            let client = Handoff(value: clients[s * 10])
            threads.spawn {
                go.wait()
                do {
                    for n in 0..<perSender {
                        try client.value.sendFrame(opcode: Op.text, payload: Array("sender=\(s) seq=\(n)".utf8))
                    }
                } catch {
                    failures.with { $0.append("sender \(s): \(error)") }
                }
            }
        }
        for _ in 0..<senderCount { go.signal() }
        let finished = threads.join(timeout: 60)
        #expect(finished, "readers still waiting; counts: \(received.map { $0.current.count })")
        #expect(failures.current.isEmpty, "\(failures.current.prefix(10))")
        guard finished else { return }

        let expected = Set((0..<senderCount).flatMap { s in (0..<perSender).map { "sender=\(s) seq=\($0)" } })
        let reference = received[0].current
        for (i, inbox) in received.enumerated() {
            let messages = inbox.current
            // Exactly once: every message, no duplicate, nothing foreign.
            #expect(messages.count == total, "client \(i) got \(messages.count) messages")
            #expect(Set(messages) == expected, "client \(i): wrong set of messages")
            // One global order for everyone.
            #expect(messages == reference, "client \(i) saw a different order; first difference at \(zip(messages, reference).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1)")
            // Each sender's messages in its send order.
            for s in 0..<senderCount {
                let sequence = messages.filter { $0.hasPrefix("sender=\(s) ") }.compactMap { Int($0.split(separator: "=").last ?? "") }
                #expect(sequence == Array(0..<perSender), "client \(i), sender \(s): \(sequence.prefix(10))...")
            }
        }
        // The senders really ran concurrently: their messages interleave in the global order.
        let senderOfEach = reference.map { $0.split(separator: " ").first ?? "" }
        let switches = zip(senderOfEach, senderOfEach.dropFirst()).filter { $0 != $1 }.count
        #expect(switches >= senderCount - 1)
        // And nothing arrives twice later on: one more broadcast is, in the global order, the next
        // message every client reads; a duplicate would come before it.
        let marker = Array("end-of-test marker".utf8)
        try clients[0].sendFrame(opcode: Op.text, payload: marker)
        for (i, client) in clients.enumerated() {
            #expect(try client.readMessage().payload == marker, "client \(i) got an extra frame before the marker")
        }
        #expect(try Ops.metrics(server.port)["lantern_messages_received_total"] == total + 1)
        // A message is counted as sent just after its write, so the last count may trail the read.
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_messages_sent_total"] == (total + 1) * clientCount })
    }

    @Test func fragmentedAndBinaryMessagesAreBroadcastWhole() throws {
        let server = try ServerProcess.start(["--mode", "broadcast", "--greeting", ""])
        defer { server.stop() }
        let clients = try (0..<3).map { _ in try server.webSocket() }
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_connections_open"] == 3 })
        try clients[1].sendFrame(fin: false, opcode: Op.text, payload: Array("frag".utf8))
        try clients[1].sendFrame(opcode: Op.ping, payload: Array("p".utf8))
        try clients[1].sendFrame(fin: true, opcode: Op.continuation, payload: Array("mented".utf8))
        let binary = Payload.binary(70_000)
        try clients[2].sendFrame(opcode: Op.binary, payload: binary)
        for (i, client) in clients.enumerated() {
            var messages: [(UInt8, [UInt8])] = []
            while messages.count < 2 {
                let frame = try client.readFrame()
                if frame.opcode == Op.pong { #expect(i == 1); continue }
                #expect(frame.fin && frame.rsv == 0 && !frame.masked, "client \(i): \(frame)")
                messages.append((frame.opcode, frame.payload))
            }
            #expect(messages[0].0 == Op.text && messages[0].1 == Array("fragmented".utf8), "client \(i)")
            #expect(messages[1].0 == Op.binary, "client \(i)")
            Expect.bytes(messages[1].1, equal: binary, "client \(i) binary")
        }
        // One member leaving does not disturb the rest.
        try clients[0].sendClose(code: 1000)
        Expect.serverCloses(clients[0], codes: [1000])
        try clients[1].sendFrame(opcode: Op.text, payload: Array("after".utf8))
        #expect(try clients[1].readMessage().payload == Array("after".utf8))
        #expect(try clients[2].readMessage().payload == Array("after".utf8))
    }

    /// One client stops reading while another sends 64 KiB messages to a room of fast readers.
    @Test func stalledClientIsDroppedWhileOthersKeepReceiving() throws {
        let queueLimit = 262_144
        let server = try ServerProcess.start(["--mode", "broadcast", "--greeting", "",
                                              "--max-queued-bytes", String(queueLimit), "--send-timeout", "2"])
        defer { server.stop() }
        let fastCount = 8, messageCount = 120, messageBytes = 64 << 10
        let pauseMicroseconds: UInt32 = 20_000
        let sender = try server.webSocket(timeout: 30)
        let fast = try (0..<fastCount).map { _ in try server.webSocket(timeout: 30) }
        let stalled = try StalledClient(port: server.port, receiveBufferBytes: 4096)
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_connections_open"] == fastCount + 2 })
        let baselineRSS = residentBytes(of: server.pid)

        // Watchers: the moment the server drops the stalled client, and its peak RSS.
        let droppedAt = Locked<UInt64?>(nil)
        let peakRSS = Locked(baselineRSS)
        let done = Locked(false)
        let watchers = ThreadGroup()
        let pid = server.pid
        let stderr = server.stderr
        watchers.spawn {
            let line = stderr.line(timeout: 30) { $0.contains("ws-slow") || ($0.contains("ws-close") && $0.contains("code=1008")) }
            if line != nil { droppedAt.with { $0 = monotonicNanoseconds() } }
        }
        watchers.spawn {
            while !done.current {
                let rss = residentBytes(of: pid)
                peakRSS.with { $0 = max($0, rss) }
                usleep(20_000)
            }
        }

        // Readers: every fast client (the sender too) records (sequence, sent-at, received-at).
        let readers = ThreadGroup()
        let deliveries = (0...fastCount).map { _ in Locked<[(seq: Int, sent: UInt64, received: UInt64)]>([]) }
        let failures = Locked<[String]>([])
        for (i, client) in ([sender] + fast).enumerated() {
            let client = Handoff(value: client), log = deliveries[i]
            readers.spawn {
                do {
                    for _ in 0..<messageCount {
                        let message = try client.value.readMessage(timeout: 20)
                        let now = monotonicNanoseconds()
                        let seq = message.payload[0..<8].reduce(0) { $0 << 8 | Int($1) }
                        let sent = message.payload[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                        if message.payload.count != messageBytes { failures.with { $0.append("client \(i): \(message.payload.count) bytes") } }
                        log.with { $0.append((seq, sent, now)) }
                    }
                } catch {
                    failures.with { $0.append("client \(i) after \(log.current.count) messages: \(error)") }
                }
            }
        }

        // The sender: 64 KiB binary messages, paced; the send time is patched into the masked
        // frame just before it is written, so masking time does not count as delivery latency.
        let sentAt = Locked<[UInt64]>([])
        for seq in 0..<messageCount {
            var payload = Payload.binary(messageBytes)
            for k in 0..<8 { payload[k] = UInt8(truncatingIfNeeded: seq >> (56 - 8 * k)) }
            for k in 8..<16 { payload[k] = 0 }
            var frame = RawClient.encodeFrame(opcode: Op.binary, payload: payload)
            let header = frame.count - messageBytes  // 2 + 8 length bytes + 4 mask bytes
            let key = Array(frame[(header - 4)..<header])
            let now = monotonicNanoseconds()
            for k in 0..<8 { frame[header + 8 + k] = UInt8(truncatingIfNeeded: now >> (56 - 8 * UInt64(k))) ^ key[(8 + k) & 3] }
            try sender.send(frame)
            sentAt.with { $0.append(now) }
            usleep(pauseMicroseconds)
        }
        let readersFinished = readers.join(timeout: 60)
        done.with { $0 = true }
        _ = watchers.join(timeout: 35)
        #expect(readersFinished, "fast clients still waiting: \(deliveries.map { $0.current.count })")
        #expect(failures.current.isEmpty, "\(failures.current.prefix(10))")

        // 1. The stalled client was dropped (1008 "slow consumer"), and only it.
        let dropTime = droppedAt.current
        #expect(dropTime != nil, "no ws-slow / code=1008 line; stderr: \(server.stderr.text.suffix(2000))")
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_closes_total{code=\"1008\"}"] == 1 })
        let metrics = try Ops.metrics(server.port)
        #expect(metrics["lantern_websocket_connections_open"] == fastCount + 1, "\(metrics["lantern_websocket_connections_open"] ?? -1) open")

        // 2. Every fast client got every message, in order, promptly, also while the stalled
        //    client was still connected with a full queue.
        let times = sentAt.current
        let firstSend = times.first ?? 0
        var stallLatencies: [Double] = [], allLatencies: [Double] = []
        for (i, log) in deliveries.enumerated() {
            let entries = log.current
            #expect(entries.map(\.seq) == Array(0..<messageCount), "client \(i): \(entries.count) messages, order \(entries.prefix(5).map(\.seq))...")
            for entry in entries {
                let ms = Double(entry.received &- entry.sent) / 1e6
                allLatencies.append(ms)
                if let dropTime, entry.sent <= dropTime { stallLatencies.append(ms) }
            }
        }
        allLatencies.sort(); stallLatencies.sort()
        func percentile(_ values: [Double], _ p: Double) -> Double { values.isEmpty ? 0 : values[min(values.count - 1, Int(Double(values.count) * p))] }
        let stallSeconds = dropTime.map { Double($0 &- firstSend) / 1e9 } ?? -1
        let summary = "stalled client dropped \(String(format: "%.2f", stallSeconds)) s after the first send; " +
            "latency during the stall (\(stallLatencies.count) deliveries): p50 \(String(format: "%.1f", percentile(stallLatencies, 0.5))) ms, " +
            "max \(String(format: "%.1f", stallLatencies.last ?? 0)) ms; overall p50 \(String(format: "%.1f", percentile(allLatencies, 0.5))) ms, " +
            "p99 \(String(format: "%.1f", percentile(allLatencies, 0.99))) ms, max \(String(format: "%.1f", allLatencies.last ?? 0)) ms; " +
            "RSS \(baselineRSS >> 10) KiB -> peak \(peakRSS.current >> 10) KiB; " +
            (server.stderr.text.contains("ws-slow") ? "dropped on queue overflow (ws-slow)" : "dropped by the send timeout")
        print("broadcast stall: " + summary)
        #expect(!stallLatencies.isEmpty, "\(summary)")
        #expect(percentile(stallLatencies, 0.5) < 100, "\(summary)")
        #expect((stallLatencies.last ?? 0) < 500, "\(summary)")
        #expect(percentile(allLatencies, 0.99) < 500, "\(summary)")

        // 3. Memory stays bounded: the stalled client holds at most its queue, not the stream.
        //    (Not under a sanitizer: ASan's quarantine and TSan's shadow memory add their own.)
        if ProcessInfo.processInfo.environment["LANTERN_SANITIZER"].map({ $0.isEmpty }) ?? true {
            #expect(peakRSS.current - baselineRSS < 32 << 20, "\(summary)")
        }

        // 4. When the stalled client finally reads, it finds part of the stream, then the end
        //    of the connection (a 1008 close frame when it fitted in the socket buffer).
        let (bytes, ended) = stalled.drain(timeout: 10)
        #expect(ended, "the stalled connection is still open after \(bytes.count) bytes")
        #expect(bytes.count < messageCount * messageBytes, "the stalled client received the whole stream")
        // Its end is logged with the code the server chose: 1008 when its queue overflowed,
        // 1006 when a write to it stalled past the send timeout.
        let slow = server.stderr.text.contains("ws-slow")
        #expect(server.stderr.text.contains(slow ? "code=1008" : "code=1006"), "\(summary); stderr: \(server.stderr.text.suffix(400))")
        let (frames, _) = StalledClient.frames(in: bytes)
        for (opcode, payload) in frames where opcode == Op.close {
            let code = payload.count >= 2 ? Int(payload[payload.startIndex]) << 8 | Int(payload[payload.startIndex + 1]) : -1
            #expect(code == 1008, "close code \(code)")
            #expect(String(decoding: payload.dropFirst(2), as: UTF8.self) == "slow consumer")
        }
        #expect(frames.allSatisfy { $0.opcode == Op.binary || $0.opcode == Op.close }, "\(frames.map(\.opcode))")
        print("broadcast stall: the stalled client read \(bytes.count) bytes (\(frames.filter { $0.opcode == Op.binary }.count) whole messages), close frame: \(frames.contains { $0.opcode == Op.close })")

        // 5. The room still works, also for a newcomer.
        let newcomer = try server.webSocket()
        #expect(try Poll.until { try Ops.metrics(server.port)["lantern_websocket_connections_open"] == fastCount + 2 })
        try fast[0].sendFrame(opcode: Op.text, payload: Array("welcome back".utf8))
        #expect(try newcomer.readMessage().payload == Array("welcome back".utf8))
        #expect(try sender.readMessage().payload == Array("welcome back".utf8))
    }
}
