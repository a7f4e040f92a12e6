import Glibc
import Lantern
import Synchronization

/// Signals between the main thread and the workers.
final class RunControl: Sendable {
    /// Workers whose connections have all finished connecting (echo, hold).
    let readyWorkers = Atomic<Int>(0)
    /// WebSockets open so far (echo, hold): with none, an echo run ends at once.
    let established = Atomic<Int>(0)
    /// Set (release) once `measureStart`/`measureEnd` hold the measured window.
    let go = Atomic<Bool>(false)
    let stop = Atomic<Bool>(false)
    let measureStart = Atomic<UInt64>(.max)
    let measureEnd = Atomic<UInt64>(.max)
}

/// Counters of one worker, summed over all workers at the end.
struct WorkerStats {
    var messages = 0, bytes = 0, mismatches = 0, protocolErrors = 0, connectFailures = 0
    var peerClosed = 0, unexpected = 0, greetings = 0, cycles = 0, cycleErrors = 0
    var established = 0, deflateConnections = 0, compressedReplies = 0, stalled = 0, alive = 0
    var histogram = Histogram()
    var lastError = ""
    var errorsLogged = 0

    var errors: Int { mismatches + protocolErrors + connectFailures + peerClosed + unexpected + stalled }

    mutating func add(_ o: WorkerStats) {
        messages += o.messages; bytes += o.bytes; mismatches += o.mismatches; protocolErrors += o.protocolErrors
        connectFailures += o.connectFailures; peerClosed += o.peerClosed; unexpected += o.unexpected
        greetings += o.greetings; cycles += o.cycles; cycleErrors += o.cycleErrors; established += o.established
        deflateConnections += o.deflateConnections; compressedReplies += o.compressedReplies
        stalled += o.stalled; alive += o.alive
        histogram.merge(o.histogram)
        if !o.lastError.isEmpty { lastError = o.lastError }
    }
}

/// One epoll thread driving a share of the connections through the mode's loop.
final class Worker {
    private enum Failure { case connect, peerClosed, protocolError }

    private let options: BenchOptions
    private let control: RunControl
    private let payloads: Payloads?
    private var address: sockaddr_in
    private let epoll = Epoll()
    private let connections: [Connection]
    private var random: FastRandom
    private let maxPending: Int
    private var nextToOpen = 0
    private var pending = 0
    private var readySignalled = false
    private var kicked = false
    private var measureStart = UInt64.max
    private var measureEnd = UInt64.max
    /// Scratch for our compressed messages and the server's inflated ones.
    private let compressed = ByteBuffer(capacity: 4096)
    private let inflated = ByteBuffer(capacity: 65536)
    private let opcode: Opcode
    private static let maxMessage = 64 << 20
    var stats = WorkerStats()

    init(options: BenchOptions, control: RunControl, payloads: Payloads?, address: sockaddr_in, firstID: Int, count: Int, seed: UInt64) {
        self.options = options
        self.control = control
        self.payloads = payloads
        self.address = address
        connections = (0..<count).map { Connection(id: firstID + $0, index: $0) }
        random = FastRandom(seed: seed)
        maxPending = max(1, options.maxPending / options.threads)
        opcode = options.binary ? .binary : .text
    }

    // MARK: loop

    /// Runs `run()` on a new thread (a plain pthread: top-level code is main-actor isolated,
    /// so the entry closure must be defined here).
    func startThread() -> pthread_t {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Worker>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed")
        return thread
    }

    func run() {
        if options.mode == .churn {
            while !control.go.load(ordering: .acquiring) { usleep(200) }
            loadWindow()
            kicked = true
            for c in connections { start(c) }
        } else {
            openMore()
        }
        var lastSweep = nowNanos()
        while !control.stop.load(ordering: .relaxed) {
            let t = nowNanos()
            if options.mode != .churn {
                if !readySignalled && nextToOpen == connections.count && pending == 0 {
                    readySignalled = true
                    control.readyWorkers.add(1, ordering: .releasing)
                }
                if !kicked && control.go.load(ordering: .acquiring) {
                    kicked = true
                    loadWindow()
                    if options.mode == .echo {
                        for c in connections where c.state == .open && !c.awaiting { sendNext(c) }
                    }
                }
            }
            if kicked && options.mode != .hold && t >= measureEnd { break }
            if t &- lastSweep > 50_000_000 {
                lastSweep = t
                sweep(t)
            }
            let n = epoll.wait(timeoutMS: 5)
            for i in 0..<n {
                let (mask, token) = epoll.event(at: i)
                handle(connections[Int(token)], mask)
            }
            if options.mode != .churn && pending < maxPending { openMore() }
        }
        let t = nowNanos()
        for c in connections {
            if c.state == .open || c.state == .greeting { stats.alive += 1 }
            if options.mode == .echo && c.state == .open && c.awaiting && t &- c.sentAt > 2_000_000_000 { stats.stalled += 1 }
            if c.fd >= 0 { close(c.fd) }
            c.reset()
        }
    }

    private func loadWindow() {
        measureStart = control.measureStart.load(ordering: .relaxed)
        measureEnd = control.measureEnd.load(ordering: .relaxed)
    }

    private func openMore() {
        while nextToOpen < connections.count && pending < maxPending {
            start(connections[nextToOpen])
            nextToOpen += 1
        }
    }

    private func sweep(_ t: UInt64) {
        let limit = UInt64(options.timeout * 1e9)
        for c in connections {
            if c.state.isConnecting && t &- c.startedAt > limit {
                note("connect/handshake timeout")
                fail(c, .connect)
            } else if options.mode == .churn && (c.state == .open || c.state == .closing) && t &- c.startedAt > limit {
                note("churn cycle timeout")
                fail(c, .protocolError)
            } else if c.state == .backoff && t >= c.startedAt {
                c.state = .idle
                restartChurn(c)
            }
        }
        if options.mode != .churn { openMore() }
    }

    // MARK: socket events

    private func start(_ c: Connection) {
        c.startedAt = nowNanos()
        c.state = .connecting
        if options.mode != .churn { pending += 1 }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { note("socket: \(String(cString: strerror(errno)))"); fail(c, .connect); return }
        c.fd = fd
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r < 0 && errno != EINPROGRESS { note("connect: \(String(cString: strerror(errno)))"); fail(c, .connect); return }
        c.interest = Epoll.input | Epoll.output
        guard epoll.register(fd, c.interest, token: UInt64(c.index)) else { note("epoll_ctl failed"); fail(c, .connect); return }
    }

    private func setInterest(_ c: Connection, _ mask: UInt32) {
        guard c.interest != mask else { return }
        c.interest = mask
        epoll.modify(c.fd, mask, token: UInt64(c.index))
    }

    private func handle(_ c: Connection, _ mask: UInt32) {
        guard c.fd >= 0 else { return }
        if c.state == .connecting {
            guard mask & (Epoll.output | Epoll.error | Epoll.hangUp) != 0 else { return }
            var err: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &length)
            if err != 0 { note("connect: \(String(cString: strerror(err)))"); fail(c, .connect); return }
            c.handshake = ClientHandshake(options: options, random: &random)
            c.outgoing.append(c.handshake!.request)
            c.state = .handshaking
            if !flush(c) { fail(c, .connect) }
            return
        }
        if mask & Epoll.output != 0 && !flush(c) { fail(c, c.state.isConnecting ? .connect : .peerClosed); return }
        guard mask & (Epoll.input | Epoll.error | Epoll.hangUp) != 0 else { return }
        var eof = false
        var readError: Int32 = 0
        while true {
            let space = max(16384, c.received.capacity - c.received.end)
            let p = c.received.reserve(space)
            let n = read(c.fd, p, space)
            if n > 0 {
                c.received.end += n
                if n < space { break }
                continue
            }
            if n == 0 { eof = true; break }
            if errno == EINTR { continue }
            if errno != EAGAIN { eof = true; readError = errno }
            break
        }
        if c.state == .handshaking && !checkHandshake(c) { return }
        if c.state != .handshaking && !c.received.isEmpty && !parseFrames(c) { return }
        if eof {
            if c.state == .closing { finishCycle(c); return }   // EOF right after our close: fine
            note("connection closed by server (\(readError == 0 ? "EOF" : String(cString: strerror(readError))))")
            fail(c, c.state.isConnecting ? .connect : .peerClosed)
        }
    }

    /// Writes what is queued; false when the socket failed.
    private func flush(_ c: Connection) -> Bool {
        let out = c.outgoing
        while !out.isEmpty {
            let n = write(c.fd, out.base + out.start, out.count)
            if n > 0 { out.consume(n); continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { setInterest(c, Epoll.input | Epoll.output); return true }
            note("write: \(String(cString: strerror(errno)))")
            return false
        }
        setInterest(c, Epoll.input)
        return true
    }

    private func checkHandshake(_ c: Connection) -> Bool {
        switch c.handshake!.check(UnsafeRawBufferPointer(c.received.readable)) {
        case .needMore:
            return true
        case .failed(let reason):
            note(reason)
            fail(c, .connect)
            return false
        case .upgraded(let headLength, let parameters):
            c.received.consume(headLength)
            c.handshake = nil
            if let parameters { c.deflate = ClientDeflate(parameters, level: options.deflateLevel) }
            if options.skipFirst { c.state = .greeting } else { opened(c) }
            return true
        }
    }

    // MARK: frames and messages

    /// Handles every complete frame in `received`; false once the connection is gone.
    private func parseFrames(_ c: Connection) -> Bool {
        let rules = FrameRules(allowedReservedBits: c.deflate == nil ? 0 : FrameHeader.rsv1, requireMask: false)
        while true {
            let bytes = c.received.readable
            let parsed: (FrameHeader, Int)?
            do { parsed = try FrameHeader.parse(UnsafeRawBufferPointer(bytes), rules: rules) } catch {
                note("protocol error: \(error)")
                fail(c, .protocolError)
                return false
            }
            guard let (header, headerLength) = parsed else { return true }
            // RFC 6455 §5.1: a client MUST close the connection if it sees a masked frame.
            guard header.maskKey == nil, header.payloadLength <= UInt64(Worker.maxMessage) else {
                note("masked or oversized server frame")
                fail(c, .protocolError)
                return false
            }
            let length = Int(header.payloadLength)
            if bytes.count < headerLength + length {
                c.received.reserve(headerLength + length - bytes.count)
                return true
            }
            let payload = UnsafeMutableRawBufferPointer(start: bytes.baseAddress! + headerLength, count: length)
            // The bytes stay where they are until the next read, after this frame is handled.
            c.received.consume(headerLength + length)
            let compressed = header.reservedBits & FrameHeader.rsv1 != 0
            switch header.opcode {
            case .connectionClose:
                closeReceived(c, UnsafeRawBufferPointer(payload))
                return false
            case .ping:
                c.queueFrame(.pong, compressed: false, payload: UnsafeRawBufferPointer(payload), maskKey: UInt32(truncatingIfNeeded: random.next()))
                if !flush(c) { fail(c, .peerClosed); return false }
            case .pong:
                break
            case .continuation:
                guard c.inFragmentedMessage else { note("continuation without a message"); fail(c, .protocolError); return false }
                c.fragments.append(UnsafeRawBufferPointer(payload))
                guard c.fragments.count <= Worker.maxMessage else { note("message too large"); fail(c, .protocolError); return false }
                if header.fin {
                    c.inFragmentedMessage = false
                    received(c, c.fragmentOpcode, compressed: c.fragmentCompressed, UnsafeRawBufferPointer(c.fragments.readable))
                    c.fragments.clear()
                }
            case .text, .binary:
                guard !c.inFragmentedMessage else { note("new message inside a fragmented one"); fail(c, .protocolError); return false }
                if header.fin {
                    received(c, header.opcode, compressed: compressed, UnsafeRawBufferPointer(payload))
                } else {
                    c.inFragmentedMessage = true
                    c.fragmentOpcode = header.opcode
                    c.fragmentCompressed = compressed
                    c.fragments.clear()
                    c.fragments.append(UnsafeRawBufferPointer(payload))
                }
            }
            if c.fd < 0 { return false }
        }
    }

    /// A whole data message from the server.
    private func received(_ c: Connection, _ opcode: Opcode, compressed: Bool, _ payload: UnsafeRawBufferPointer) {
        let t = nowNanos()   // latency ends when the reply is complete, before inflating it
        var data = payload
        if compressed {
            guard let deflate = c.deflate, deflate.decompress(payload, into: inflated, limit: Worker.maxMessage) else {
                note("cannot inflate a compressed message")
                fail(c, .protocolError)
                return
            }
            data = UnsafeRawBufferPointer(inflated.readable)
            stats.compressedReplies += 1
        }
        if c.state == .greeting {
            stats.greetings += 1
            opened(c)
            return
        }
        guard c.awaiting, let payloads else {
            stats.unexpected += 1
            note("unexpected message (\(opcode), \(data.count) bytes)")
            return
        }
        c.awaiting = false
        let sent = payloads.payload(c.expected)
        let ok = opcode == self.opcode && data.count == sent.count
            && (sent.count == 0 || memcmp(data.baseAddress!, sent.baseAddress!, sent.count) == 0)
        if !ok {
            stats.mismatches += 1
            note("echo mismatch: \(opcode) of \(data.count) bytes for \(self.opcode) of \(sent.count) (compressed: \(compressed))")
        }
        switch options.mode {
        case .echo:
            if t >= measureStart && t < measureEnd {
                if ok { stats.messages += 1; stats.bytes += data.count }
                stats.histogram.record(t &- c.sentAt)
            }
            if t < measureEnd && !control.stop.load(ordering: .relaxed) { sendNext(c) }
        case .churn:
            if !ok { stats.cycleErrors += 1 }
            let close: [UInt8] = [0x03, 0xE8]   // 1000
            close.withUnsafeBytes { c.queueFrame(.connectionClose, compressed: false, payload: $0, maskKey: UInt32(truncatingIfNeeded: random.next())) }
            c.state = .closing
            if !flush(c) { fail(c, .peerClosed) }
        case .hold, .dump, .zlib:
            break
        }
    }

    private func opened(_ c: Connection) {
        c.state = .open
        if options.mode == .churn {
            if c.deflate != nil { stats.deflateConnections = 1 }
            sendNext(c)
            return
        }
        pending -= 1
        stats.established += 1
        control.established.add(1, ordering: .relaxed)
        if c.deflate != nil { stats.deflateConnections += 1 }
        if options.mode == .echo && kicked { sendNext(c) }
    }

    private func sendNext(_ c: Connection) {
        guard let payloads else { return }
        c.expected = c.id &+ c.sequence
        c.sequence &+= 1
        c.awaiting = true
        let payload = payloads.payload(c.expected)
        let key = UInt32(truncatingIfNeeded: random.next())
        if let deflate = c.deflate, deflate.canCompress {
            guard deflate.compress(payload, into: compressed) else { note("deflate failed"); fail(c, .protocolError); return }
            c.queueFrame(opcode, compressed: true, payload: UnsafeRawBufferPointer(compressed.readable), maskKey: key)
        } else {
            c.queueFrame(opcode, compressed: false, payload: payload, maskKey: key)
        }
        // Latency starts after framing and compression, right before the first write.
        c.sentAt = nowNanos()
        if !flush(c) { fail(c, .peerClosed) }
    }

    private func closeReceived(_ c: Connection, _ payload: UnsafeRawBufferPointer) {
        if c.state == .closing { finishCycle(c); return }
        let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
        let reason = payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : ""
        note("server sent close \(code) '\(reason)'")
        fail(c, .peerClosed)
    }

    /// Churn: our close was answered; count the cycle and start the next.
    private func finishCycle(_ c: Connection) {
        let t = nowNanos()
        if t >= measureStart && t < measureEnd {
            stats.cycles += 1
            stats.histogram.record(t &- c.startedAt)
        }
        close(c.fd)
        c.reset()
        restartChurn(c)
    }

    private func restartChurn(_ c: Connection) {
        if control.stop.load(ordering: .relaxed) || nowNanos() >= measureEnd { c.state = .idle; return }
        start(c)
    }

    private func fail(_ c: Connection, _ kind: Failure) {
        if c.state.isConnecting && options.mode != .churn { pending -= 1 }
        switch kind {
        case .connect: stats.connectFailures += 1
        case .peerClosed: stats.peerClosed += 1
        case .protocolError: stats.protocolErrors += 1
        }
        if c.fd >= 0 { close(c.fd) }
        c.reset()
        if options.mode == .churn {
            stats.cycleErrors += 1
            c.state = .backoff
            c.startedAt = nowNanos() + 10_000_000
        } else {
            c.state = .dead
        }
    }

    private func note(_ message: String) {
        stats.lastError = message
        if options.verbose && stats.errorsLogged < 10 {
            stats.errorsLogged += 1
            writeLine("lantern-bench: \(message)\n", to: 2)
        }
    }
}
