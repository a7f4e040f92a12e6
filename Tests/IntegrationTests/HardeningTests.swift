import Foundation
import Glibc
import Testing

/// Hardening (issue 4): slow and vanished peers, heartbeat, caps, resource exhaustion, slow
/// consumers, churn and shutdown under load, all driven through the spawned binary over 127.0.0.1.
///
/// Serialized: several tests measure latency, RSS, thread and fd counts of the server and must not
/// compete with each other for the two cores. Every wait is bounded. Numbers worth reporting are
/// printed as `hardening: ...` lines.
///
/// `LANTERN_SANITIZER=thread|address` (set by `tools/sanitizers.sh`) marks a sanitized server
/// binary: memory bounds are not asserted then (the sanitizers' shadow memory dominates RSS),
/// the address-space test is skipped, and the churn is shorter.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HardeningTests {
    static let sanitizer = ProcessInfo.processInfo.environment["LANTERN_SANITIZER"].flatMap { $0.isEmpty ? nil : $0 }

    // MARK: 1. Slow clients

    /// 300 clients that send nothing, half a head, or a byte every 0.5 s do not delay a normal client,
    /// and each is dropped once `--handshake-timeout` (2 s) has passed since it connected.
    ///
    /// Under qemu (`LANTERN_EMULATED=1`) the handshake timeout is 6 s and the drop window follows it:
    /// qemu creates the server's threads slowly (300 took 2.5 s on armv6, over 10 s with other
    /// builds running), so at 2 s the first slow clients were dropped before the last had a thread
    /// and "all 300 attached at once" never held. A client is accepted by the time all 300 threads
    /// exist at the latest, so the latest drop may also trail by that lag (measured, printed).
    @Test func slowClientsDoNotDelayANormalClientAndAreDroppedAtTheHandshakeTimeout() throws {
        let test = "slowClientsDoNotDelayANormalClientAndAreDroppedAtTheHandshakeTimeout"
        let timeout = Emulation.bound(2, 6, test, "--handshake-timeout (s)", why: "qemu creates 300 server threads in 2.5-10 s: at 2 s the first were dropped before the last were accepted")
        let server = try ServerProcess.start(["--handshake-timeout", String(Int(timeout))])
        defer { server.stop() }
        let pid = server.pid
        let baseThreads = ProcStat.baseline(pid).threads
        let head = Array("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n".utf8)

        // 1. Attach 300 slow clients: 100 silent, 100 with a partial head, 100 trickling one byte per 0.5 s.
        var slow: [(client: RawClient, connected: Double, trickle: Bool)] = []
        for i in 0..<300 {
            let client = try RawClient(port: server.port, timeout: 5)
            switch i % 3 {
            case 0: break
            case 1: try client.send(Array(head.prefix(30)))
            default: try client.send([head[0]])
            }
            slow.append((client, Clock.now(), i % 3 == 2))
        }
        let attached = Poll.until(timeout: 10) { ProcStat.threads(pid) >= baseThreads + 300 }
        let attachedAt = Clock.now()
        #expect(attached, "server threads: \(ProcStat.threads(pid)), expected \(baseThreads) + 300")

        // 2. A normal client on its own thread, while this thread trickles and watches for drops.
        let normal = Box<(connect: Double, total: Double, error: String?)>((0, 0, nil))
        let port = server.port
        let normalThread = Workers(count: 1) { _ in
            let start = Clock.now()
            do {
                let client = try RawClient.webSocket(port: port, timeout: 5)
                let connected = Clock.now()
                let greeting = try client.readMessage()
                guard greeting.opcode == Op.text else { throw ClientError.malformed("greeting \(greeting)") }
                for i in 0..<5 {
                    let text = Array("normal \(i)".utf8)
                    try client.sendFrame(opcode: Op.text, payload: text)
                    guard try client.readMessage().payload == text else { throw ClientError.malformed("echo \(i)") }
                }
                try client.sendClose(code: 1000)
                _ = try client.readCloseFrame()
                normal.value = (connected - start, Clock.now() - start, nil)
            } catch {
                normal.value = (0, Clock.now() - start, "\(error)")
            }
        }

        // 3. Trickle and record when each slow client sees the server close TCP.
        var dropped: [Int: Double] = [:]
        var sent = Array(repeating: 1, count: slow.count)
        var lastTrickle = Clock.now()
        let deadline = Clock.now() + timeout + 6
        var fds = slow.map { pollfd(fd: $0.client.fd, events: Int16(POLLIN), revents: 0) }
        var index = Array(0..<slow.count)
        var scratch = [UInt8](repeating: 0, count: 4096)
        while !fds.isEmpty && Clock.now() < deadline {
            let ready = poll(&fds, nfds_t(fds.count), 50)
            let now = Clock.now()
            if ready > 0 {
                var keep: [Int] = []
                for k in fds.indices {
                    if fds[k].revents == 0 { keep.append(k); continue }
                    let n = scratch.withUnsafeMutableBytes { recv(fds[k].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)) { keep.append(k); continue }
                    dropped[index[k]] = now
                }
                fds = keep.map { fds[$0] }
                index = keep.map { index[$0] }
            }
            if now - lastTrickle >= 0.5 {
                lastTrickle = now
                for i in index where slow[i].trickle && sent[i] < head.count {
                    _ = try? slow[i].client.send([head[sent[i]]])
                    sent[i] += 1
                }
            }
        }
        _ = normalThread.join(timeout: 10)

        // 4. The normal client was served promptly; every slow one was dropped at about 2 s.
        let result = normal.value
        #expect(result.error == nil, "normal client failed: \(result.error ?? "")")
        #expect(result.connect < 1.0, "normal client took \(result.connect) s to upgrade with 300 slow clients attached")
        #expect(result.total < 1.0, "normal client took \(result.total) s to upgrade and echo 5 messages")
        #expect(dropped.count == 300, "\(300 - dropped.count) slow clients still open after \(Int(timeout) + 6) s")
        let lifetimes = dropped.map { $0.value - slow[$0.key].connected }.sorted()
        if let first = lifetimes.first, let last = lifetimes.last {
            #expect(first >= timeout - 0.1, "a slow client was dropped after only \(first) s")
            // Natively 3.5 s. Under emulation the timeout + 1.5 s plus the accept lag: every client
            // had its thread by `attachedAt`, so none was accepted later than that after connecting.
            let acceptLag = attachedAt - (slow.first?.connected ?? attachedAt)
            let latest = Emulation.bound(3.5, timeout + 1.5 + acceptLag, test, "latest drop (s after connect)", why: "handshake timeout \(Int(timeout)) s + 1.5 s + accept lag \(Fmt.s(acceptLag)) of qemu's slow thread creation")
            #expect(last <= latest, "a slow client was dropped only after \(last) s")
            print("hardening: 300 slow clients (handshake timeout \(Int(timeout)) s): normal client upgrade \(Fmt.ms(result.connect)), upgrade+5 echoes \(Fmt.ms(result.total)); slow clients dropped after \(Fmt.s(first))..\(Fmt.s(last)) (median \(Fmt.s(lifetimes[lifetimes.count / 2])))")
        }
        // The lines travel through a pipe and a reader thread: wait for them, do not sample once.
        var timeouts = 0
        _ = Poll.until(timeout: 5) {
            timeouts = PipeCollector.completeLines(server.stderr.text).filter { $0.contains("http timeout") }.count
            return timeouts >= 300
        }
        #expect(timeouts == 300, "http timeout lines: \(timeouts)")
        #expect(Poll.until(timeout: 5) { ProcStat.threads(pid) == baseThreads }, "threads \(ProcStat.threads(pid)), baseline \(baseThreads)")
        for entry in slow { entry.client.close() }
    }

    // MARK: 2. Heartbeat

    /// Beyond LimitsTests: three peers at once. The silent one gets 1001 "idle timeout" at about the
    /// idle timeout (not before), and TCP closes within the close timeout even though it never replies;
    /// one answering pings and one sending data but ignoring pings both stay up for 3 idle timeouts.
    @Test func heartbeatClosesOnlyTheSilentPeerWith1001() throws {
        let server = try ServerProcess.start(["--greeting", "", "--ping-interval", "0.3", "--idle-timeout", "1"])
        defer { server.stop() }
        let port = server.port
        let tally = Tally()
        // 1. Two live peers on their own threads for 3 s.
        let live = Workers(count: 2) { kind in
            do {
                let client = try RawClient.webSocket(port: port, timeout: 3)
                let until = Clock.now() + 3
                var lastData = Clock.now()
                var pings = 0
                while Clock.now() < until {
                    if kind == 1 && Clock.now() - lastData >= 0.4 {
                        // Chatty: data every 0.4 s (longer than the ping interval), pings ignored.
                        let text = Array("chatty".utf8)
                        try client.sendFrame(opcode: Op.text, payload: text)
                        var reply = try client.readFrame(timeout: 2)
                        while reply.opcode == Op.ping { pings += 1; reply = try client.readFrame(timeout: 2) }
                        guard reply.opcode == Op.text, reply.payload == text else { throw ClientError.malformed("reply \(reply)") }
                        lastData = Clock.now()
                        continue
                    }
                    let frame: Frame
                    do { frame = try client.readFrame(timeout: 0.1) } catch ClientError.timeout { continue }
                    guard frame.opcode == Op.ping else { throw ClientError.malformed("unexpected \(frame)") }
                    pings += 1
                    if kind == 0 { try client.sendFrame(opcode: Op.pong, payload: frame.payload) }
                }
                let text = Array("still here".utf8)
                try client.sendFrame(opcode: Op.text, payload: text)
                var reply = try client.readFrame(timeout: 2)
                while reply.opcode == Op.ping { reply = try client.readFrame(timeout: 2) }
                guard reply.payload == text else { throw ClientError.malformed("final echo \(reply)") }
                tally.add(kind == 0 ? "ponger pings" : "chatty pings", pings)
                try client.sendClose(code: 1000)
                var close = try client.readFrame(timeout: 2)
                while close.opcode == Op.ping { close = try client.readFrame(timeout: 2) }
                guard close.opcode == Op.close, close.closeCode == 1000 else { throw ClientError.malformed("close \(close)") }
                tally.add(kind == 0 ? "ponger ok" : "chatty ok")
            } catch {
                tally.error("\(kind == 0 ? "ponger" : "chatty"): \(error)")
            }
        }
        // 2. The silent peer, on this thread: pings, then 1001 "idle timeout", then TCP close.
        let silent = try server.webSocket(timeout: 4)
        let start = Clock.now()
        var pingTimes: [Double] = []
        var close: Frame?
        while close == nil && Clock.now() - start < 4 {
            let frame = try silent.readFrame(timeout: 4)
            if frame.opcode == Op.ping { pingTimes.append(Clock.now() - start) } else { close = frame }
        }
        let closedAt = Clock.now() - start
        #expect(close?.opcode == Op.close && close?.closeCode == 1001, "expected close 1001, got \(close.map { "\($0)" } ?? "nothing")")
        if let close, close.payload.count > 2 {
            #expect(String(decoding: close.payload[2...], as: UTF8.self) == "idle timeout")
        }
        #expect(closedAt >= 0.95 && closedAt <= 2.0, "close frame after \(closedAt) s (idle timeout 1 s)")
        #expect(pingTimes.count >= 2, "pings before the close: \(pingTimes)")
        #expect(pingTimes.first.map { $0 >= 0.25 && $0 <= 0.7 } ?? false, "first ping at \(pingTimes.first ?? -1) s (interval 0.3 s)")
        // Never answered: the server's close timeout (1 s) bounds its wait for our close reply.
        let tcpStart = Clock.now()
        Expect.serverClosesTCP(silent, timeout: 3)
        let tcpAfter = Clock.now() - tcpStart
        #expect(tcpAfter <= 1.8, "TCP closed \(tcpAfter) s after the close frame")
        print("hardening: heartbeat: pings at \(pingTimes.map { Fmt.s($0) }), close 1001 at \(Fmt.s(closedAt)), TCP close \(Fmt.s(tcpAfter)) later")

        #expect(live.join(timeout: 10), "live peers did not finish")
        #expect(tally.errors.isEmpty, "\(tally.errors)")
        #expect(tally["ponger ok"] == 1 && tally["chatty ok"] == 1, "\(tally.snapshot)")
        #expect(tally["ponger pings"] >= 5, "ponger answered \(tally["ponger pings"]) pings in 3 s")
        #expect(server.stderrLine(containing: ["ws-idle"], timeout: 1) != nil)
        #expect(server.stderrLine(containing: ["ws-close", "code=1001"], timeout: 1) != nil)
        let idles = PipeCollector.completeLines(server.stderr.text).filter { $0.contains("ws-idle") }.count
        #expect(idles == 1, "ws-idle lines: \(idles) (only the silent peer may be closed)")
    }

    // MARK: 3. Connection cap

    /// Beyond LimitsTests: a storm of refused clients (each with a full request already sent) all get a
    /// complete 503 with Retry-After, the clients under the cap keep echoing throughout, and a slot
    /// left by a peer that resets is reusable at once.
    @Test func capStormLeavesExistingClientsAloneAndFreedSlotsAreReusedAtOnce() throws {
        let server = try ServerProcess.start(["--greeting", "", "--max-connections", "3"])
        defer { server.stop() }
        let port = server.port
        let members = try (0..<3).map { _ in try server.webSocket() }
        #expect(server.stderrLine(containing: ["ws-open", "open=3"]) != nil)
        // 1. 60 refused clients from another thread while the members echo.
        let tally = Tally()
        let storm = Workers(count: 1) { _ in
            for _ in 0..<60 {
                do {
                    let c = try RawClient(port: port, timeout: 3)
                    try c.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: port, key: RawClient.makeKey()))
                    let r = try c.readHTTPResponse()
                    if r.status == 503 && r.header("Retry-After") != nil { tally.add("503") } else { tally.error("got \(r.statusLine)") }
                    _ = try c.readUntilEOF(timeout: 3)
                    tally.add("closed")
                } catch {
                    tally.error("\(error)")
                }
            }
        }
        var worst = 0.0
        var rounds = 0
        while !storm.isDone || rounds < 10 {
            for (i, member) in members.enumerated() {
                let text = Array("member \(i) \(rounds)".utf8)
                let t0 = Clock.now()
                try member.sendFrame(opcode: Op.text, payload: text)
                #expect(try member.readMessage().payload == text)
                worst = max(worst, Clock.now() - t0)
            }
            rounds += 1
            if rounds > 10_000 { break }
        }
        #expect(storm.join(timeout: 30))
        #expect(tally.errors.isEmpty, "refused clients: \(tally.errors.prefix(5))")
        #expect(tally["503"] == 60 && tally["closed"] == 60, "\(tally.snapshot)")
        #expect(worst < 0.25, "slowest member echo during the storm: \(worst) s")
        // 2. A member resets; a new client is admitted as soon as the server notices.
        members[0].reset()
        let t0 = Clock.now()
        var admitted: RawClient?
        var refusals = 0
        while admitted == nil && Clock.now() - t0 < 3 {
            do { admitted = try RawClient.webSocket(port: port, timeout: 3) } catch { refusals += 1 }
        }
        let reuse = Clock.now() - t0
        #expect(admitted != nil, "no slot after a member left")
        #expect(reuse < 0.5, "slot reused after \(reuse) s (\(refusals) refusals)")
        print("hardening: cap: slowest member echo during 60 refusals \(Fmt.ms(worst)); slot reused \(Fmt.ms(reuse)) after a reset (\(refusals) refusals first)")
        admitted?.close()
    }

    // MARK: 4. Resource failures

    /// RLIMIT_NOFILE lowered on the running server: accept fails with EMFILE; the server logs one warn
    /// line for the burst, backs off instead of spinning, and serves the queued clients once others leave.
    @Test func outOfDescriptorsIsLoggedOnceAndServedAfterClientsLeave() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let pid = server.pid
        let baseFDs = ProcStat.baseline(pid).fds
        try Rlimit.set(pid: pid, "nofile", "\(baseFDs + 20)")
        // 1. 40 clients send a complete upgrade request; about 20 fit.
        var clients: [RawClient] = []
        for _ in 0..<40 {
            let c = try RawClient(port: server.port, timeout: 5)
            try c.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()))
            clients.append(c)
        }
        #expect(server.stderrLine(containing: ["warn", "accept: out of resources"], timeout: 5) != nil, "no EMFILE warn line; stderr: \(server.stderr.text.suffix(500))")
        let answered = Poller.readable(clients.map(\.fd), timeout: 1.0)
        #expect(answered.count >= 10 && answered.count < 40, "\(answered.count) of 40 clients answered with the descriptor limit at base+20")
        // 2. While out of descriptors the accept loop backs off: little CPU, no new threads.
        let cpu0 = ProcStat.cpuSeconds(pid), threads0 = ProcStat.threads(pid)
        let window = Clock.now()
        _ = Poller.readable([clients.last!.fd], timeout: 1.0)  // nothing arrives: a bounded 1 s window
        let cpu = ProcStat.cpuSeconds(pid) - cpu0
        #expect(cpu < 0.3, "server used \(cpu) s CPU in \(Clock.now() - window) s while out of descriptors")
        #expect(ProcStat.threads(pid) == threads0)
        #expect(server.waitForExit(timeout: 0) == false, "server died: \(server.stderr.text.suffix(500))")
        // 3. The served ones leave; the queued ones get their 101.
        let servedSet = Set(answered)
        var queued: [RawClient] = []
        for c in clients {
            if servedSet.contains(c.fd) {
                _ = try? c.readHTTPResponse(bodyless: true)
                c.close()
            } else {
                queued.append(c)
            }
        }
        var upgraded = 0
        for c in queued {
            if let r = try? c.readHTTPResponse(bodyless: true, timeout: 5), r.status == 101 { upgraded += 1 }
            c.close()
        }
        #expect(upgraded == queued.count, "\(upgraded) of \(queued.count) queued clients were upgraded after the others left")
        let warns = PipeCollector.completeLines(server.stderr.text).filter { $0.contains("accept: out of resources") }.count
        #expect(warns == 1, "\(warns) EMFILE warn lines for one burst of under 5 s")
        print("hardening: EMFILE: limit base(\(baseFDs))+20, \(answered.count)/40 served at once, rest after others left (\(upgraded)/\(queued.count)); accept loop CPU while stuck \(Fmt.s(cpu)) per s; warn lines \(warns)")
        try Rlimit.set(pid: pid, "nofile", "1024")
        Expect.serverStillEchoes(server)
    }

    /// Thread creation failing (EAGAIN from pthread_create): RLIMIT_NPROC does not bind root, and these
    /// tests run as root, so the server is moved into its own pids cgroup (v1, /sys/fs/cgroup/pids)
    /// with room for 6 more threads. (Capping RLIMIT_AS also makes pthread_create fail, but then any
    /// malloc may fail too, and the Swift runtime traps on that: not a test of thread exhaustion.)
    @Test(.enabled(if: PidsCgroup.available, "needs a writable pids cgroup (v1) at /sys/fs/cgroup/pids"))
    func threadCreationFailureAnswers503AndRecovers() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        let pid = server.pid
        let cgroup = try PidsCgroup(name: "lantern-hardening-\(pid)")
        defer {
            server.stop()
            cgroup.remove()
        }
        let baseThreads = ProcStat.baseline(pid).threads
        // The cgroup counts every task, qemu's own threads too when emulated: room for 6 more server threads.
        let emulatorThreads = Emulation.active ? ProcStat.tasks(pid) - ProcStat.threads(pid) : 0
        if Emulation.active { Emulation.note("threadCreationFailureAnswers503AndRecovers: pids.max counts \(emulatorThreads) qemu thread(s) on top of the server's \(baseThreads) + 6") }
        try cgroup.limit(pid: pid, maxTasks: baseThreads + 6 + emulatorThreads)
        // 1. 12 clients at once (each keeps its thread): 6 get threads, the rest 503.
        var clients: [RawClient] = []
        var statuses: [Int: Int] = [:]
        for _ in 0..<12 {
            let c = try RawClient(port: server.port, timeout: 5)
            try c.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()))
            do {
                let r = try c.readHTTPResponse(bodyless: true)
                statuses[r.status, default: 0] += 1
                if r.status == 503 { #expect(r.header("Retry-After") != nil) }
            } catch {
                statuses[0, default: 0] += 1
                Issue.record("client \(clients.count): \(error) (exit status \(server.exitStatus.map(String.init) ?? "-"); stderr: \(server.stderr.text.suffix(300)))")
            }
            clients.append(c)
        }
        #expect(statuses[101] == 6 && statuses[503] == 6, "statuses \(statuses)")
        #expect(server.stderrLine(containing: ["refused", "cannot create a thread"], timeout: 1) != nil)
        #expect(!server.waitForExit(timeout: 0), "server died: \(server.stderr.text.suffix(500))")
        // 2. Once they leave, new clients get threads again (the cap still in place).
        for c in clients { c.close() }
        #expect(Poll.until(timeout: 5) { ProcStat.threads(pid) == baseThreads })
        let again = try (0..<6).map { _ in try server.webSocket() }
        for (i, c) in again.enumerated() {
            try c.sendFrame(opcode: Op.text, payload: Array("again \(i)".utf8))
            #expect(try c.readMessage().payload == Array("again \(i)".utf8))
        }
        print("hardening: thread creation failure via pids cgroup (max \(baseThreads + 6 + emulatorThreads) tasks): statuses \(statuses.sorted { $0.key < $1.key }); served again after they left")
    }

    // MARK: 5. Slow consumer

    /// `--send-timeout` bounds a whole stalled write from its first `sendmsg`. The budget used to
    /// start only after that call had itself blocked for a full SO_SNDTIMEO: 2 s became 4 s.
    @Test func sendTimeoutCountsFromTheFirstBlockedWrite() throws {
        let server = try ServerProcess.start(["--greeting", "", "--send-timeout", "2", "--max-message-bytes", String(16 << 20)])
        defer { server.stop() }
        let peer = try server.webSocket(timeout: 10)
        var small: Int32 = 4096
        setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        // One message larger than every buffer on the way back: the server has all of it (our
        // send returns) and starts its echo, which stalls because we never read.
        try peer.send(RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(8 << 20)))
        let sent = Clock.now()
        let closed = server.stderr.wait(timeout: 10) { text, _ in text.contains("ws-close") }
        let took = Clock.now() - sent
        #expect(closed, "no ws-close within 10 s; stderr: \(server.stderr.text.suffix(600))")
        #expect(took >= 1.5 && took <= 3.2, "closed \(Fmt.s(took)) after the echo began (send timeout 2 s)")
    }

    /// A peer that sends big messages and never reads is closed once an echo write stalls for
    /// `--send-timeout` (1 s); another client's echoes stay fast and RSS stays bounded meanwhile.
    @Test func slowConsumerIsClosedAfterSendTimeoutWhileOthersStayFast() throws {
        let server = try ServerProcess.start(["--greeting", "", "--send-timeout", "1"])
        defer { server.stop() }
        let pid = server.pid
        let fast = try server.webSocket()
        let stalled = try server.webSocket(timeout: 3)
        let openLine = server.stderrLine(containing: ["ws-open", "open=2"]) ?? ""
        let stalledID = openLine.split(separator: " ").first { $0.hasPrefix("id=") }.map(String.init) ?? "id=?"
        var small: Int32 = 4096
        setsockopt(stalled.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let rssStart = ProcStat.residentKB(pid) ?? 0

        // 1. The stalled peer sends 512 KB messages until the server stops reading it.
        let progress = Box<(sent: Int, lastSent: Double, error: String?)>((0, 0, nil))
        let message = RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(512 << 10))
        let start = Clock.now()
        let stalledBox = Box(stalled)
        let sender = Workers(count: 1) { _ in
            let peer = stalledBox.value
            for i in 1...400 {
                do { try peer.send(message) } catch {
                    progress.value.error = "\(error)"
                    return
                }
                progress.value = (i, Clock.now(), nil)
            }
        }
        // 2. Meanwhile, round trips on the fast client and RSS samples until the server gives up.
        var latencies: [Double] = []
        var rssMax = rssStart
        var closedAt: Double?
        while Clock.now() - start < 12 {
            let text = Array("ping \(latencies.count)".utf8)
            let t0 = Clock.now()
            try fast.sendFrame(opcode: Op.text, payload: text)
            #expect(try fast.readMessage().payload == text)
            latencies.append(Clock.now() - t0)
            rssMax = max(rssMax, ProcStat.residentKB(pid) ?? 0)
            if server.stderr.text.contains("ws-close \(stalledID) ") { closedAt = Clock.now(); break }
            usleep(5_000)  // pacing, not synchronisation
        }
        _ = Glibc.shutdown(stalled.fd, Int32(SHUT_RDWR))  // unblocks our sender if the server never closed
        #expect(sender.join(timeout: 10), "the stalled sender is still blocked")
        let state = progress.value
        #expect(closedAt != nil, "stalled peer not closed within 12 s (send timeout 1 s); it sent \(state.sent) x 512 KB, the last at +\(Fmt.s(state.lastSent - start)); stderr: \(server.stderr.text.suffix(300))")
        var closing = "not closed within 12 s"
        if let closedAt {
            // The server stops reading before our sends block (its receive + our send buffers), so the
            // stall began no later than our last completed send.
            let afterLast = closedAt - state.lastSent
            #expect(afterLast <= 3.0, "closed \(afterLast) s after the peer's last completed send (send timeout 1 s)")
            #expect(closedAt - start <= 10, "closed \(closedAt - start) s after the peer started")
            closing = "closed \(Fmt.s(closedAt - start)) after start, \(Fmt.s(afterLast)) after its last completed send"
        }
        // Whatever happened to the stalled peer, the other client kept its latency and memory stayed bounded.
        let sorted = latencies.sorted()
        let p50 = sorted[sorted.count / 2], p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        #expect(sorted.count >= 10)
        #expect(p50 < 0.05 && sorted.last! < 0.5, "fast client echo p50 \(p50) s, max \(sorted.last!) s")
        if Self.sanitizer == nil { #expect(rssMax < 64 * 1024, "server RSS peaked at \(rssMax) KB") }
        print("hardening: slow consumer: \(state.sent) x 512 KB sent (\(state.error ?? "no error")); \(closing); fast client \(sorted.count) echoes p50 \(Fmt.ms(p50)) p99 \(Fmt.ms(p99)) max \(Fmt.ms(sorted.last!)); RSS \(rssStart) KB -> peak \(rssMax) KB")
        #expect(server.stderrLine(containing: ["ws-close", stalledID, "code=1006"], timeout: 1) != nil, "stalled peer close line")
        Expect.serverStillEchoes(server)
    }

    // MARK: 6. Vanishing peers

    /// Peers vanish (FIN or RST) at many byte offsets mid-handshake, mid-frame and mid-close: every
    /// thread ends, every descriptor is closed, and the registry drains to zero.
    @Test func peersVanishingAtAnyByteLeaveNothingBehind() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let pid = server.pid, port = server.port
        let (baseThreads, baseFDs) = ProcStat.baseline(pid)
        let request = Array("GET /ws HTTP/1.1\r\n".utf8) + Array(RawClient.upgradeHeaders(port: port, key: RawClient.makeKey()).map { $0 + "\r\n" }.joined().utf8) + [13, 10]
        let medium = RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(300))      // 16-bit length
        let large = RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(70_000))    // 64-bit length
        let fragment = RawClient.encodeFrame(fin: false, opcode: Op.text, payload: Array("first half".utf8))
        let closeFrame = RawClient.encodeFrame(opcode: Op.close, payload: [0x03, 0xE8] + Array("bye".utf8))
        let ping = RawClient.encodeFrame(opcode: Op.ping, payload: Array("p".utf8))

        enum Stage { case handshake([UInt8]), frame([UInt8]), closeThenVanish, closeReadReplyThenVanish }
        var stages: [(String, Stage)] = []
        for n in [0, 1, 5, 20, request.count - 2, request.count - 1] { stages.append(("head[..<\(n)]", .handshake(Array(request.prefix(n))))) }
        for n in [1, 2, 3, 4, 6, 8, 8 + 150, medium.count - 1] { stages.append(("medium[..<\(n)]", .frame(Array(medium.prefix(n))))) }
        for n in [5, 14, 14 + 30_000] { stages.append(("large[..<\(n)]", .frame(Array(large.prefix(n))))) }
        stages.append(("fragment", .frame(fragment)))
        stages.append(("fragment+continuation[..<3]", .frame(fragment + RawClient.encodeFrame(opcode: Op.continuation, payload: Array("x".utf8)).prefix(3))))
        stages.append(("text with a split UTF-8 sequence", .frame(Array(RawClient.encodeFrame(fin: false, opcode: Op.text, payload: [0x61, 0xE2, 0x82])))))
        stages.append(("ping[..<4]", .frame(Array(ping.prefix(4)))))
        for n in [1, 3, 6] { stages.append(("close[..<\(n)]", .frame(Array(closeFrame.prefix(n))))) }
        stages.append(("close sent, reply unread", .closeThenVanish))
        stages.append(("close exchanged, no FIN", .closeReadReplyThenVanish))

        // 1. Bring every peer to its stage, twice: once to leave with FIN, once with RST.
        var peers: [(name: String, client: RawClient, rst: Bool)] = []
        var upgraded = 0
        for rst in [false, true] {
            for (name, stage) in stages {
                switch stage {
                case .handshake(let bytes):
                    let c = try RawClient(port: port)
                    if !bytes.isEmpty { try c.send(bytes) }
                    peers.append((name, c, rst))
                case .frame(let bytes):
                    let c = try RawClient.webSocket(port: port)
                    upgraded += 1
                    try c.send(bytes)
                    peers.append((name, c, rst))
                case .closeThenVanish:
                    let c = try RawClient.webSocket(port: port)
                    upgraded += 1
                    try c.send(closeFrame)
                    peers.append((name, c, rst))
                case .closeReadReplyThenVanish:
                    let c = try RawClient.webSocket(port: port)
                    upgraded += 1
                    try c.send(closeFrame)
                    #expect(try c.readCloseFrame().closeCode == 1000)
                    peers.append((name, c, rst))
                }
            }
        }
        // 2. Let the server read every byte sent (its receive queues drain), so each vanish happens mid-state.
        #expect(Poll.until(timeout: 5) { TCPTable.serverReceiveQueued(port: port) == 0 }, "server left bytes unread")
        let peakThreads = ProcStat.threads(pid)
        for peer in peers { if peer.rst { peer.client.reset() } else { peer.client.close() } }

        // 3. Everything returns to baseline.
        let threadsBack = Poll.until(timeout: 5) { ProcStat.threads(pid) == baseThreads }
        let fdsBack = Poll.until(timeout: 5) { ProcStat.fds(pid) == baseFDs }
        #expect(threadsBack, "threads \(ProcStat.threads(pid)), baseline \(baseThreads)")
        #expect(fdsBack, "fds \(ProcStat.fds(pid)), baseline \(baseFDs)")
        let closes = server.stderr.wait(timeout: 5) { text, _ in Logs.count("ws-close", in: text) == upgraded }
        #expect(closes, "ws-close lines \(Logs.count("ws-close", in: server.stderr.text)), upgraded \(upgraded)")
        Logs.expectRegistryEmpty(server, after: upgraded)
        print("hardening: vanish: \(peers.count) peers (\(stages.count) stages x FIN/RST, \(upgraded) upgraded); threads \(baseThreads) -> \(peakThreads) -> \(ProcStat.threads(pid)); fds \(baseFDs) -> \(ProcStat.fds(pid))")
    }

    /// A half-close (FIN, still reading) at any stage ends the connection from the server's side too.
    @Test func halfClosedPeersAreClosedByTheServer() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let medium = RawClient.encodeFrame(opcode: Op.binary, payload: Payload.binary(300))
        var clients: [RawClient] = [try server.connect()]
        try clients[0].send("GET /ws HTTP/1.1\r\nHost: x\r\n")
        for n in [0, 1, 8, 100] {
            let c = try server.webSocket()
            if n > 0 { try c.send(Array(medium.prefix(n))) }
            clients.append(c)
        }
        for c in clients { _ = Glibc.shutdown(c.fd, Int32(SHUT_WR)) }
        for c in clients { Expect.serverClosesTCP(c, timeout: 3) }
        Logs.expectRegistryEmpty(server, after: 4)
    }

    // MARK: 7. Churn

    /// 10,000 connect → upgrade → echo → close cycles on 8 threads, then 2,000 peers that drop (half
    /// mid-handshake, half after the upgrade): threads, fds and the registry return to baseline and RSS
    /// stays within 16 MB of the start.
    @Test func churnReturnsToBaseline() throws {
        let cycles = Self.sanitizer == nil ? 10_000 : 2_000
        let drops = Self.sanitizer == nil ? 2_000 : 400
        let server = try ServerProcess.start()
        defer { server.stop() }
        let pid = server.pid, port = server.port
        let (baseThreads, baseFDs) = ProcStat.baseline(pid)
        let rssStart = ProcStat.residentKB(pid) ?? 0
        let tally = Tally()
        let counter = Counter()
        let greeting = Array("Welcome to simple echo server".utf8)
        let request = Array("GET /ws HTTP/1.1\r\n".utf8) + Array(RawClient.upgradeHeaders(port: port, key: RawClient.makeKey()).map { $0 + "\r\n" }.joined().utf8) + [13, 10]

        let t0 = Clock.now()
        let workers = Workers(count: 8) { worker in
            while true {
                let i = counter.next()
                if i >= cycles + drops { return }
                do {
                    if i < cycles {
                        let c = try RawClient.webSocket(port: port, timeout: 5)
                        guard try c.readMessage().payload == greeting else { throw ClientError.malformed("greeting") }
                        let text = Array("cycle \(i)".utf8)
                        try c.sendFrame(opcode: Op.text, payload: text)
                        guard try c.readMessage().payload == text else { throw ClientError.malformed("echo") }
                        try c.sendClose(code: 1000)
                        guard try c.readCloseFrame().closeCode == 1000 else { throw ClientError.malformed("close code") }
                        _ = try c.readUntilEOF()
                        c.close()
                        tally.add("cycles")
                    } else if i % 2 == 0 {
                        // Mid-handshake: part of the head, then FIN or RST.
                        let c = try RawClient(port: port, timeout: 5)
                        try c.send(Array(request.prefix(i % request.count)))
                        if i % 4 == 0 { c.reset() } else { c.close() }
                        tally.add("drops mid-handshake")
                    } else {
                        // After the upgrade: maybe mid-frame, then FIN or RST.
                        let c = try RawClient.webSocket(port: port, timeout: 5)
                        if i % 3 == 0 { try c.send(Array(RawClient.encodeFrame(opcode: Op.text, payload: Array("gone".utf8)).prefix(5))) }
                        if i % 4 == 1 { c.reset() } else { c.close() }
                        tally.add("drops after upgrade")
                    }
                } catch {
                    tally.error("#\(i) on worker \(worker): \(error)")
                }
            }
        }
        // Sample while the workers run (the join below is the bounded wait).
        var peakThreads = baseThreads, peakRSS = rssStart, peakFDs = baseFDs
        while !workers.isDone && Clock.now() - t0 < 150 {
            peakThreads = max(peakThreads, ProcStat.threads(pid))
            peakFDs = max(peakFDs, ProcStat.fds(pid))
            peakRSS = max(peakRSS, ProcStat.residentKB(pid) ?? 0)
            _ = workers.join(timeout: 0.2)
        }
        #expect(workers.join(timeout: 5), "churn workers did not finish")
        let elapsed = Clock.now() - t0
        #expect(tally.errors.isEmpty, "\(tally.errors.count) failures, first: \(tally.errors.prefix(3))")
        #expect(tally["cycles"] == cycles, "\(tally.snapshot)")

        let threadsBack = Poll.until(timeout: 10) { ProcStat.threads(pid) == baseThreads }
        let fdsBack = Poll.until(timeout: 10) { ProcStat.fds(pid) == baseFDs }
        let upgradedCount = cycles + drops / 2
        let logged = server.stderr.wait(timeout: 10) { text, _ in Logs.count("ws-close", in: text) >= upgradedCount }
        let lines = PipeCollector.completeLines(server.stderr.text)
        let opens = lines.filter { $0.contains(" ws-open ") }.count, closes = lines.filter { $0.contains(" ws-close ") }.count
        let lastClose = lines.last { $0.contains(" ws-close ") } ?? ""
        let rssEnd = ProcStat.residentKB(pid) ?? 0
        #expect(threadsBack, "threads \(ProcStat.threads(pid)), baseline \(baseThreads)")
        #expect(fdsBack, "fds \(ProcStat.fds(pid)), baseline \(baseFDs)")
        #expect(logged && opens == upgradedCount && closes == upgradedCount, "ws-open \(opens), ws-close \(closes), expected \(upgradedCount) each")
        // Lines are logged after the registry lock is released, so the last line may trail: probe instead.
        Logs.expectRegistryEmpty(server, after: closes)
        if Self.sanitizer == nil { #expect(rssEnd < rssStart + 16 * 1024, "RSS \(rssStart) KB -> \(rssEnd) KB") }
        print("hardening: churn: \(cycles) cycles + \(drops) drops in \(Fmt.s(elapsed)) (\(Int(Double(cycles + drops) / elapsed))/s); threads \(baseThreads) -> peak \(peakThreads) -> \(ProcStat.threads(pid)); fds \(baseFDs) -> peak \(peakFDs) -> \(ProcStat.fds(pid)); RSS \(rssStart) KB -> peak \(peakRSS) KB -> \(rssEnd) KB; last ws-close line: \(lastClose.split(separator: " ").suffix(3).joined(separator: " "))")
    }

    /// Worker threads are reused: 100 connections one after another (upgrade, echo, close) are
    /// served by a handful of threads, not one each (a thread per connection shows 102 here).
    /// Typically 2 or 3 workers: the one serving, one still logging the last connection, a spare.
    /// The bound allows 8 because a worker that is descheduled on its way back to `accept` makes
    /// the next connection start another (4 were seen once on a loaded 2-core CI machine).
    /// The spares leave once idle for 2 s (Limits.workerIdleMs).
    @Test func sequentialConnectionsReuseWorkerThreads() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.stop() }
        let pid = server.pid
        let baseThreads = ProcStat.baseline(pid).threads
        var peak = baseThreads
        var seen = ProcStat.threadIDs(pid)
        for i in 0..<100 {
            let c = try server.webSocket()
            let text = Array("sequential \(i)".utf8)
            try c.sendFrame(opcode: Op.text, payload: text)
            #expect(try c.readMessage().payload == text)
            seen.formUnion(ProcStat.threadIDs(pid))  // the thread serving `c` is alive now
            try c.sendClose(code: 1000)
            #expect(try c.readCloseFrame().closeCode == 1000)
            _ = try c.readUntilEOF()
            c.close()
            peak = max(peak, ProcStat.threads(pid))
        }
        #expect(peak <= baseThreads + 7, "threads peaked at \(peak) for one connection at a time (baseline \(baseThreads))")
        #expect(seen.count <= baseThreads + 7, "\(seen.count) distinct threads served 100 sequential connections (baseline \(baseThreads))")
        let idleStart = Clock.now()
        let back = Poll.until(timeout: 6) { ProcStat.threads(pid) == baseThreads }
        #expect(back, "threads \(ProcStat.threads(pid)), baseline \(baseThreads)")
        print("hardening: 100 sequential connections: threads \(baseThreads) -> peak \(peak), \(seen.count) distinct; spares gone \(Fmt.s(Clock.now() - idleStart)) after the last")
    }

    // MARK: 8. Shutdown under load

    /// 200 clients echoing in a loop, then SIGTERM: each reads a close frame with 1001 (echoes may
    /// precede it, nothing follows it), and the process exits 0 within 2 s of the signal.
    /// Under a sanitizer, 50 clients: with TSan's slowdown, 200 busy clients on 2 cores left only
    /// 48 close frames sent within 2 s (no race reported), which measures TSan, not the server.
    @Test func sigtermUnderLoadSends1001ToEveryClientAndExits0Within2s() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.kill() }
        let port = server.port
        let count = Self.sanitizer == nil ? 200 : 50
        // Under qemu the waits before the signal (upgrade, first echo, each echo) are 3x: 200 clients
        // echoing flat out against 200 emulated server threads on 2 cores left the last few without
        // an echo for 5 s on armv6 when other work shared the machine. The bounds after SIGTERM stay.
        let slack = Emulation.bound(1, 3, "sigtermUnderLoadSends1001ToEveryClientAndExits0Within2s", "waits before SIGTERM (upgrade 10 s, each echo 5 s, all upgraded 30 s, all echoed 20 s, echoing 10 s; factor)", why: "200 busy clients against 200 emulated server threads on 2 cores: the last ones waited over 5 s for an echo; the 1001-and-exit-within-2-s bounds are unchanged")
        let tally = Tally()
        let ready = Counter(), echoes = Counter(), live = Counter()
        let signalled = Box<Double>(0)
        let workers = Workers(count: count, stackSize: 256 << 10) { i in
            var n = 0
            do {
                let c = try RawClient.webSocket(port: port, timeout: 10 * slack)
                _ = ready.next()
                let start = Clock.now()
                while Clock.now() - start < 40 * slack {
                    let text = Array("c\(i) m\(n)".utf8)
                    do { try c.sendFrame(opcode: Op.text, payload: text) } catch {
                        // Our send raced the server's close: the close frame must still be readable.
                        tally.add("send failed after close")
                    }
                    let frame = try c.readFrame(timeout: 5 * slack)
                    if frame.opcode == Op.text {
                        guard frame.payload == text else { throw ClientError.malformed("echo mismatch") }
                        _ = echoes.next()
                        if n == 0 { _ = live.next() }
                        n += 1
                        continue
                    }
                    guard frame.opcode == Op.close else { throw ClientError.malformed("unexpected \(frame)") }
                    tally.add("close \(frame.closeCode.map(String.init) ?? "none")")
                    tally.sample("close latency", Clock.now() - signalled.value)
                    try? c.sendClose(code: frame.closeCode)
                    do {
                        let rest = try c.readUntilEOF(timeout: 3)
                        tally.add(rest.isEmpty ? "tcp closed" : "bytes after close")
                    } catch {
                        tally.add("tcp not closed")
                    }
                    return
                }
                tally.error("client \(i): no close frame within \(Int(40 * slack)) s")
            } catch {
                let after = signalled.value > 0 ? "\(Fmt.ms(Clock.now() - signalled.value)) after SIGTERM" : "before SIGTERM"
                tally.error("client \(i): \(error) after \(n) echoes, \(after)")
            }
        }
        #expect(Poll.until(timeout: 30 * slack) { ready.value == count || workers.isDone }, "only \(ready.value) of \(count) clients upgraded")
        // Every client has had an echo (so its connection is registered), and the loop is busy.
        #expect(Poll.until(timeout: 20 * slack) { live.value == count || workers.isDone }, "only \(live.value) of \(count) clients echoed")
        let busy = echoes.value
        #expect(Poll.until(timeout: 10 * slack) { echoes.value >= busy + 2 * count }, "clients are not echoing")
        let echoesBefore = echoes.value
        signalled.value = Clock.now()
        server.send(signal: SIGTERM)
        let exited = server.waitForExit(timeout: 2)
        let exitAfter = Clock.now() - signalled.value
        #expect(exited, "still running 2 s after SIGTERM; stderr: \(server.stderr.text.suffix(500))")
        if exited { #expect(server.exitStatus == 0, "exit status \(server.exitStatus.map(String.init) ?? "signalled")") }
        if !exited { server.kill() }
        #expect(workers.join(timeout: 15), "client threads did not finish")
        let closing = server.stderrLine(containing: ["shutting down"], timeout: 0.1) ?? "no 'shutting down' line"
        #expect(tally.errors.isEmpty, "\(tally.errors.count) clients failed, first: \(tally.errors.prefix(3)); server: \(closing)")
        #expect(tally["close 1001"] == count, "close frames: \(tally.snapshot)")
        #expect(tally["tcp closed"] == count, "\(tally.snapshot)")
        let latency = tally.samples("close latency").sorted()
        print("hardening: shutdown: \(count) clients, \(echoesBefore) echoes before SIGTERM; exit after \(Fmt.ms(exitAfter)); close frames \(tally.snapshot.filter { $0.key.hasPrefix("close ") }); close latency max \(latency.last.map { Fmt.ms($0) } ?? "-"); send races \(tally["send failed after close"]); server: \(closing)")
    }

    /// Handshakes that complete after SIGTERM (accepted before it, head finished after it) while one
    /// open WebSocket that never answers the close keeps the shutdown waiting (up to its 1.5 s): each
    /// either never gets a 101, or gets a 101 and then a close frame with 1001; the exit stays 0 within 2 s.
    @Test func sigtermDuringHandshakesLeavesNoUpgradedClientWithoutA1001() throws {
        let server = try ServerProcess.start(["--greeting", ""])
        defer { server.kill() }
        let pid = server.pid, port = server.port
        let baseThreads = ProcStat.baseline(pid).threads
        let key = RawClient.makeKey()
        let head = Array("GET /ws HTTP/1.1\r\n".utf8) + Array(RawClient.upgradeHeaders(port: port, key: key).map { $0 + "\r\n" }.joined().utf8) + [13, 10]
        // 1. One open WebSocket (registered: it has had an echo) that will not answer the close;
        //    20 clients with all but the last 2 bytes of their head sent: accepted, each on its thread.
        let anchor = try server.webSocket()
        try anchor.sendFrame(opcode: Op.text, payload: Array("anchor".utf8))
        #expect(try anchor.readMessage().payload == Array("anchor".utf8))
        let clients = try (0..<20).map { _ in
            let c = try RawClient(port: port, timeout: 3)
            try c.send(Array(head.dropLast(2)))
            return c
        }
        #expect(Poll.until(timeout: 5) { ProcStat.threads(pid) >= baseThreads + 21 })
        // 2. SIGTERM; once the server has taken its snapshot of open WebSockets, finish the heads.
        let signalled = Clock.now()
        server.send(signal: SIGTERM)
        #expect(server.stderrLine(containing: ["shutting down"], timeout: 2) != nil)
        for c in clients { try? c.send([13, 10]) }
        var outcomes: [String: Int] = [:]
        for c in clients {
            let outcome: String
            do {
                let r = try c.readHTTPResponse(bodyless: true, timeout: 2.5)
                if r.status != 101 {
                    outcome = "\(r.status)"
                } else if let close = try? c.readCloseFrame(timeout: 2.5) {
                    outcome = "101 then close \(close.closeCode.map(String.init) ?? "none")"
                } else {
                    outcome = "101 then no close frame"
                }
            } catch {
                outcome = "no response (\(error))"
            }
            outcomes[outcome, default: 0] += 1
        }
        let anchorClose = try? anchor.readCloseFrame(timeout: 1)
        #expect(anchorClose?.closeCode == 1001, "anchor: \(anchorClose.map { "\($0)" } ?? "no close frame")")
        let exited = server.waitForExit(timeout: max(0, 2.5 - (Clock.now() - signalled)))
        let exitAfter = Clock.now() - signalled
        print("hardening: SIGTERM during 20 handshakes: \(outcomes.sorted { $0.key < $1.key }); exit after \(Fmt.ms(exitAfter))")
        #expect(outcomes.keys.allSatisfy { !$0.hasPrefix("101") || $0 == "101 then close 1001" }, "outcomes \(outcomes)")
        #expect(exited && exitAfter <= 2.0 && server.exitStatus == 0, "exited \(exited) after \(exitAfter) s, status \(server.exitStatus.map(String.init) ?? "-")")
    }
}
