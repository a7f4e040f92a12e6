import Foundation
import Glibc
import Testing

/// Issue 18: `lantern -- PROGRAM ARGS...` against the built binary, with real programs.
/// A program that prints `$PPID` tells the test the server's own pid even when the binary runs
/// behind a wrapper (qemu under `unshare`), so /proc checks look at the right process.
enum Programs {
    /// tools/examples, where the README's two example scripts live.
    static let examples = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/examples").path

    /// The processes whose parent is `pid`: (pid, state letter), from /proc/*/stat.
    static func children(of pid: Int32) -> [(pid: Int32, state: Character)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [(Int32, Character)] = []
        for name in entries {
            guard let child = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 2, Int32(fields[1]) == pid, let state = fields[0].first { found.append((child, state)) }
        }
        return found
    }

    /// Open descriptors of `pid`.
    static func descriptorCount(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count ?? -1
    }

    static func isAlive(_ pid: Int32) -> Bool {
        // A zombie still answers kill(0): look at its state too.
        guard Glibc.kill(pid, 0) == 0 else { return false }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    static func text(_ client: RawClient, timeout: TimeInterval? = nil) throws -> String {
        let message = try client.readMessage(timeout: timeout)
        #expect(message.opcode == Op.text)
        return String(decoding: message.payload, as: UTF8.self)
    }

    static func send(_ client: RawClient, _ text: String) throws {
        try client.sendFrame(opcode: Op.text, payload: Array(text.utf8))
    }

    /// Text messages until the close frame; returns them and the close code (after replying).
    static func readToClose(_ client: RawClient, timeout: TimeInterval = 10) throws -> ([String], UInt16?) {
        var messages: [String] = []
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let frame = try client.readFrame(timeout: deadline.timeIntervalSinceNow)
            if frame.opcode == Op.close {
                try? client.sendClose(code: frame.closeCode)
                return (messages, frame.closeCode)
            }
            messages.append(String(decoding: frame.payload, as: UTF8.self))
        }
    }

    /// The number in the log line `exec-start id=ID pid=N`.
    static func startedPid(_ server: ServerProcess, id: Int) -> Int32? {
        guard let line = server.stderrLine(containing: ["exec-start id=\(id) "]) else { return nil }
        return line.split(separator: "=").last.flatMap { Int32($0) }
    }

    /// How many complete stderr lines hold `fragment`.
    static func count(_ server: ServerProcess, _ fragment: String) -> Int {
        PipeCollector.completeLines(server.stderr.text).filter { $0.contains(fragment) }.count
    }

    /// Waits (bounded) until `count(fragment)` reaches `n`.
    @discardableResult
    static func awaitLines(_ server: ServerProcess, _ fragment: String, _ n: Int, timeout: TimeInterval = 10) -> Bool {
        server.stderr.wait(timeout: timeout) { text, _ in
            PipeCollector.completeLines(text).filter { $0.contains(fragment) }.count >= n
        }
    }
}

@Suite("lantern -- PROGRAM", .serialized, .timeLimit(.minutes(3)))
struct ProgramTests {
    @Test func counterLinesArriveInOrderAndByeEndsWith1000() throws {
        let server = try ServerProcess.start(["--", Programs.examples + "/counter.sh", "1000"])
        defer { server.kill() }
        let client = try server.webSocket()
        for n in 1...1000 { #expect(try Programs.text(client) == "\(n)") }
        try Programs.send(client, "hello")
        #expect(try Programs.text(client) == "1001 hello")
        try Programs.send(client, "bye")
        #expect(try Programs.text(client) == "1002 bye")
        Expect.serverCloses(client, codes: [1000], replyToClose: true)
        #expect(Programs.awaitLines(server, "exec-exit id=1 ", 1))
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", "status=0"]) != nil)
    }

    @Test func readingScriptPrintsEverySecondAndEndsWithTheConnection() throws {
        let server = try ServerProcess.start(["--exec-grace", "0.2", "--", Programs.examples + "/reading.sh"])
        defer { server.kill() }
        let client = try server.webSocket()
        let first = try Programs.text(client, timeout: 5)
        let second = try Programs.text(client, timeout: 5)
        for line in [first, second] {
            #expect(line.hasPrefix("temperature ") || line.hasPrefix("load "), "\(line)")
        }
        try client.sendClose(code: 1000)
        // A reading may cross our close; then the close reply.
        while try client.readFrame().opcode != Op.close {}
        // It never reads stdin: SIGTERM after the grace, to its `sleep` too (one process group).
        #expect(Programs.awaitLines(server, "exec-exit id=1 ", 1))
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", "signal=15"]) != nil)
        #expect(Programs.count(server, "exec-kill") == 1)
    }

    @Test func catEchoesThroughAProcessUpTo1MiB() throws {
        let server = try ServerProcess.start(["--", "cat"])
        defer { server.kill() }
        let client = try server.webSocket()
        let big = (0..<(1 << 20)).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let timeout = Emulation.bound(10, 60, #function, "1 MiB through cat", why: "translated copies")
        for payload in [Array("hello".utf8), [], Array("ünïcödé ✓".utf8), Array(big.prefix(70_000)), big] {
            try client.sendFrame(opcode: Op.text, payload: payload)
            let echoed = try client.readMessage(timeout: timeout)
            #expect(echoed.opcode == Op.text)
            #expect(echoed.payload == payload, "\(payload.count) bytes")
        }
        try client.sendClose(code: 1000)
        #expect(try client.readCloseFrame().closeCode == 1000)
    }

    @Test(arguments: [("exit 0", UInt16(1000), "status=0"), ("echo last; exit 3", 1011, "status=3"), ("kill -9 $$", 1011, "signal=9")])
    func exitStatusIsTheCloseCode(script: String, code: UInt16, logged: String) throws {
        let server = try ServerProcess.start(["--", "sh", "-c", script])
        defer { server.kill() }
        let client = try server.webSocket()
        let (messages, closeCode) = try Programs.readToClose(client)
        #expect(closeCode == code)
        #expect(messages == (script.hasPrefix("echo") ? ["last"] : []))
        #expect(Programs.awaitLines(server, "ws-close id=1 ", 1))
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", logged]) != nil, "\(server.stderr.text.suffix(600))")
        let metrics = try Ops.metrics(server.port)
        let bucket = code == 1000 ? "zero" : (logged.hasPrefix("signal") ? "signal" : "nonzero")
        #expect(metrics["lantern_programs_started_total"] == 1)
        #expect(metrics["lantern_programs_exited_total{status=\"\(bucket)\"}"] == 1)
        #expect(metrics["lantern_programs_killed_total"] == 0)
    }

    @Test func aProgramThatNeverReadsIsClosedAfterTheSendTimeout() throws {
        let server = try ServerProcess.start(["--send-timeout", "1", "--exec-grace", "0.2", "--", "sleep", "600"])
        defer { server.kill() }
        let client = try server.webSocket()
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
        let start = Date()
        // The pipe holds 64 KiB: the second message cannot all go in.
        for _ in 0..<3 { try client.sendFrame(opcode: Op.text, payload: chunk) }
        Expect.serverCloses(client, codes: [1011], timeout: Emulation.bound(5, 20, #function, "close after a stalled stdin", why: "slow start"), replyToClose: true)
        #expect(Date().timeIntervalSince(start) >= 0.9, "closed before the send timeout")
        #expect(server.stderrLine(containing: ["exec-stalled id=1"]) != nil)
        // It never reads, so closing its stdin does not end it: SIGTERM does.
        #expect(Programs.awaitLines(server, "exec-exit id=1 ", 1))
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", "signal=15"]) != nil)
        #expect(try Ops.metrics(server.port)["lantern_programs_killed_total"] == 1)
    }

    @Test func aFloodToAClientThatDoesNotReadIsBoundedAndEnds() throws {
        let server = try ServerProcess.start(["--send-timeout", "1", "--exec-grace", "0.2", "--", "yes", "a line the client never reads"])
        defer { server.kill() }
        let before = try Ops.metrics(server.port)["lantern_resident_memory_bytes"] ?? 0
        // A small receive window: the client's kernel stops taking data almost at once.
        let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
        try client.sendRequest("GET /ws HTTP/1.1", headers: RawClient.upgradeHeaders(port: server.port, key: RawClient.makeKey()))
        #expect(Programs.awaitLines(server, "ws-close id=1 ", 1, timeout: Emulation.bound(10, 30, #function, "flood ends", why: "translated copies")),
                "\(server.stderr.text.suffix(600))")
        #expect(server.stderrLine(containing: ["ws-close id=1 ", "code=1006"]) != nil, "the send timeout ends it")
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", "signal="]) != nil, "\(server.stderr.text.suffix(600))")
        // Not under a sanitizer: ASan's quarantine and TSan's shadow memory add their own.
        if ProcessInfo.processInfo.environment["LANTERN_SANITIZER"].map({ $0.isEmpty }) ?? true {
            let after = try Ops.metrics(server.port)["lantern_resident_memory_bytes"] ?? 0
            #expect(after - before < 16 << 20, "RSS grew \(after - before) bytes: output was queued, not throttled")
        }
        client.close()
    }

    @Test(arguments: [true, false])
    func aClientThatVanishesHasItsProgramReapedWithinTheGrace(programReadsStdin: Bool) throws {
        let script = programReadsStdin ? "echo tick; exec cat" : "while :; do echo tick; sleep 0.05; done"
        let server = try ServerProcess.start(["--exec-grace", "0.5", "--", "sh", "-c", script])
        defer { server.kill() }
        let client = try server.webSocket()
        #expect(try Programs.text(client) == "tick")
        let pid = try #require(Programs.startedPid(server, id: 1))
        let vanished = Date()
        client.reset()
        let bound = Emulation.bound(2, 6, #function, "vanished client's program reaped", why: "translated signals and fork")
        #expect(Programs.awaitLines(server, "exec-exit id=1 ", 1, timeout: bound + 1))
        let took = Date().timeIntervalSince(vanished)
        #expect(took < bound, "reaped \(took) s after the client vanished (grace 0.5 s)")
        #expect(!Programs.isAlive(pid))
        if programReadsStdin {
            #expect(server.stderrLine(containing: ["exec-exit id=1 ", "status=0"]) != nil, "cat ends at EOF on its stdin")
            #expect(Programs.count(server, "exec-kill") == 0)
        } else {
            #expect(server.stderrLine(containing: ["exec-exit id=1 ", "signal=15"]) != nil)
        }
    }

    @Test func aProgramThatExitsWhileItsBackgroundJobHoldsStdoutStillEndsTheSession() throws {
        let server = try ServerProcess.start(["--", "sh", "-c", "sleep 600 & echo $!; exit 0"])
        defer { server.kill() }
        let client = try server.webSocket()
        let background = try #require(Int32(try Programs.text(client)))
        let start = Date()
        let (_, code) = try Programs.readToClose(client, timeout: Emulation.bound(5, 15, #function, "close after exit", why: "translated waits"))
        #expect(code == 1000)
        #expect(Date().timeIntervalSince(start) < Emulation.bound(3, 10, #function, "noticed within", why: "translated waits"))
        #expect(server.stderrLine(containing: ["exec-left id=1 "]) != nil)
        // Its leftover job got SIGTERM with the group; init reaps it once it is gone.
        let deadline = Date(timeIntervalSinceNow: 5)
        while Programs.isAlive(background) && Date() < deadline { usleep(20_000) }
        #expect(!Programs.isAlive(background), "the background job outlived its connection")
    }

    @Test func aProgramThatIgnoresSIGTERMGetsSIGKILLAfterTheSecondGrace() throws {
        let server = try ServerProcess.start(["--exec-grace", "0.3", "--", "sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.05; done"])
        defer { server.kill() }
        let client = try server.webSocket()
        let pid = try #require(Int32(try Programs.text(client)))
        try client.sendClose(code: 1000)
        _ = try client.readCloseFrame()
        #expect(Programs.awaitLines(server, "exec-exit id=1 ", 1))
        #expect(server.stderrLine(containing: ["exec-exit id=1 ", "signal=9"]) != nil, "\(server.stderr.text.suffix(600))")
        #expect(server.stderrLine(containing: ["exec-kill pid=\(pid) SIGTERM"]) != nil)
        #expect(server.stderrLine(containing: ["exec-kill pid=\(pid) SIGKILL"]) != nil)
        #expect(!Programs.isAlive(pid))
        #expect(try Ops.metrics(server.port)["lantern_programs_killed_total"] == 1, "one program, counted once")
    }

    @Test func fiveHundredCyclesLeaveNoZombieAndNoDescriptor() throws {
        let server = try ServerProcess.start(["--", "sh", "-c", "echo $PPID; exec cat"])
        defer { server.kill() }
        func cycle(_ n: Int) throws -> Int32? {
            let client = try server.webSocket()
            defer { client.close() }
            let ppid = Int32(try Programs.text(client))
            try Programs.send(client, "m\(n)")
            #expect(try Programs.text(client) == "m\(n)")
            try client.sendClose(code: 1000)
            #expect(try client.readCloseFrame().closeCode == 1000)
            return ppid
        }
        let pid = try #require(try cycle(0), "the program's $PPID")
        #expect(Programs.awaitLines(server, "ws-close id=", 1))
        let baseline = Programs.descriptorCount(pid)
        var zombiesSeen = 0
        for n in 1...500 {
            _ = try cycle(n)
            if n % 50 == 0 { zombiesSeen = max(zombiesSeen, Programs.children(of: pid).filter { $0.state == "Z" }.count) }
        }
        #expect(Programs.awaitLines(server, "ws-close id=", 501, timeout: 30))
        // Each connection's log line comes after its program was reaped.
        #expect(Programs.children(of: pid).isEmpty, "\(Programs.children(of: pid))")
        #expect(zombiesSeen <= 1, "zombies left waiting: \(zombiesSeen)")
        #expect(Programs.descriptorCount(pid) == baseline)
        let metrics = try Ops.metrics(server.port)
        #expect(metrics["lantern_programs_started_total"] == 501)
        #expect(metrics["lantern_programs_exited_total{status=\"zero\"}"] == 501)
    }

    @Test func aProgramHasOnlyDescriptors0To2() throws {
        // Listings while other connections (with programs) are open: none of their sockets or
        // pipes, nor the listener, nor anything the test runner left open, may show.
        let server = try ServerProcess.start(["--", "sh", "-c", "ls /proc/$$/fd; echo end; exec cat"])
        defer { server.kill() }
        var clients: [RawClient] = []
        for _ in 0..<3 {
            let client = try server.webSocket()
            var listed: [String] = []
            while true {
                let line = try Programs.text(client)
                if line == "end" { break }
                listed.append(line)
            }
            #expect(listed == ["0", "1", "2"])
            clients.append(client)
        }
    }

    @Test func theEnvironmentIsTheDocumentedSetAndNeverTheToken() throws {
        let token = AccessTokenIntegrationTests.token
        let tokenPath = try AccessTokenIntegrationTests.tokenFile()
        defer { unlink(tokenPath) }
        let server = try ServerProcess.start(
            ["--access-token-file", tokenPath, "--trust-proxy", "127.0.0.1", "--exec-env", "HOME", "--", "env"],
            environment: ["HOME": "/home/box", "TEST_SECRET_VAR": "leak"])
        defer { server.kill() }
        let client = try RawClient.webSocket(address: .ipv4Loopback(server.port), path: "/ws?room=7", extraHeaders: [
            "Sec-WebSocket-Protocol: lantern, lantern.token.\(token)", "X-Forwarded-For: 203.0.113.7",
            "Origin: http://127.0.0.1:\(server.port)", "User-Agent: test/1",
        ])
        let (lines, code) = try Programs.readToClose(client)
        #expect(code == 1000)
        var env: [String: String] = [:]
        for line in lines {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            env[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        #expect(env["REMOTE_ADDR"] == "203.0.113.7", "the forwarded client, from a trusted proxy")
        #expect(env["REMOTE_PORT"] == nil, "X-Forwarded-For gives no port")
        #expect(env["SERVER_PORT"] == "\(server.port)")
        #expect(env["REQUEST_URI"] == "/ws?room=7" && env["PATH_INFO"] == "/ws" && env["QUERY_STRING"] == "room=7")
        #expect(env["HTTP_ORIGIN"] == "http://127.0.0.1:\(server.port)" && env["HTTP_USER_AGENT"] == "test/1")
        #expect(env["HTTP_HOST"] == "127.0.0.1:\(server.port)")
        #expect(env["HOME"] == "/home/box", "--exec-env HOME")
        #expect(env["LANTERN_CONNECTION_ID"] == "1")
        #expect(env["PATH"] != nil)
        let expected: Set = ["PATH", "HOME", "GATEWAY_INTERFACE", "SERVER_SOFTWARE", "SERVER_PROTOCOL", "REQUEST_METHOD", "REMOTE_ADDR",
                             "SERVER_PORT", "REQUEST_URI", "PATH_INFO", "QUERY_STRING", "HTTP_HOST", "HTTP_ORIGIN", "HTTP_USER_AGENT",
                             "LANTERN_CONNECTION_ID"]
        // `env` may add nothing; a shell would add PWD and friends, which is why it is not one.
        #expect(Set(env.keys) == expected)
        #expect(!lines.contains { $0.contains(token) || $0.contains("leak") })
    }

    @Test func sigtermEndsTwentyProgramsThenCloses1001() throws {
        let script = "echo $$; if [ $((LANTERN_CONNECTION_ID % 2)) = 0 ]; then exec cat; else exec sleep 600; fi"
        let server = try ServerProcess.start(["--exec-grace", "0.5", "--", "sh", "-c", script])
        defer { server.kill() }
        var clients: [RawClient] = []
        var pids: [Int32] = []
        for _ in 0..<20 {
            let client = try server.webSocket()
            pids.append(try #require(Int32(try Programs.text(client))))
            clients.append(client)
        }
        #expect(pids.allSatisfy(Programs.isAlive))
        let start = Date()
        server.send(signal: SIGTERM)
        for client in clients { Expect.serverCloses(client, codes: [1001], timeout: 10, replyToClose: true) }
        let bound = Emulation.bound(5, 15, #function, "shutdown with 20 programs", why: "translated fork and signals")
        #expect(server.waitForExit(timeout: bound), "still running \(Date().timeIntervalSince(start)) s after SIGTERM")
        #expect(server.exitStatus == 0)
        #expect(!pids.contains(where: Programs.isAlive), "a program outlived the server")
        #expect(server.stderr.waitForEOF(timeout: 5))
        #expect(Programs.count(server, "exec-exit id=") == 20, "each one reaped by the server itself")
        #expect(Programs.count(server, "status=0") == 10 && Programs.count(server, "signal=15") == 10)
        #expect(Programs.count(server, "exec-kill") == 10, "only the ones not reading stdin needed SIGTERM")
    }

    @Test func maxConnectionsBoundsThePrograms() throws {
        let server = try ServerProcess.start(["--max-connections", "2", "--", "sh", "-c", "echo $PPID; exec cat"])
        defer { server.kill() }
        let first = try server.webSocket()
        let pid = try #require(Int32(try Programs.text(first)))
        let second = try server.webSocket()
        _ = try Programs.text(second)
        #expect(throws: (any Error).self) { _ = try server.webSocket() }
        #expect(Programs.children(of: pid).count == 2)
        try first.sendClose(code: 1000)
        _ = try first.readCloseFrame()
        #expect(Programs.awaitLines(server, "ws-close id=1 ", 1))
        let third = try server.webSocket()
        #expect(Int32(try Programs.text(third)) == pid)
        #expect(Programs.children(of: pid).count == 2)
    }

    @Test func stderrIsLoggedRateLimitedAndOddLinesAreHandled() throws {
        let script = "i=0; while [ $i -lt 100 ]; do echo \"e$i\" >&2; i=$((i+1)); done; printf 'caf\\351\\n'; exec cat"
        let server = try ServerProcess.start(["--", "sh", "-c", script])
        defer { server.kill() }
        let client = try server.webSocket()
        let odd = try client.readMessage()
        #expect(odd.opcode == Op.binary, "not UTF-8: sent as binary")
        #expect(odd.payload == [0x63, 0x61, 0x66, 0xE9])
        #expect(Programs.awaitLines(server, "exec-stderr id=1", 20))
        #expect(server.stderrLine(containing: ["exec-stderr id=1: e0"]) != nil)
        try Programs.send(client, "x")
        _ = try Programs.text(client)
        let logged = Programs.count(server, "exec-stderr id=1")
        #expect(logged >= 20 && logged <= 25, "\(logged) of 100 stderr lines logged")
        #expect(Programs.count(server, ": e99") == 0)
    }

    @Test func aLineLongerThanTheMessageLimitCloses1009() throws {
        let server = try ServerProcess.start(["--max-message-bytes", "1000", "--", "sh", "-c", "echo short; head -c 5000 /dev/zero | tr '\\0' a; echo; exec cat"])
        defer { server.kill() }
        let client = try server.webSocket()
        let (messages, code) = try Programs.readToClose(client)
        #expect(messages == ["short"])
        #expect(code == 1009)
        #expect(server.stderrLine(containing: ["exec-line id=1", "--max-message-bytes"]) != nil)
    }

    @Test func aProgramThatCannotBeStartedAnyMoreCloses1011AndTheServerGoesOn() throws {
        // Runnable at startup, not at the second connection: posix_spawn fails (EACCES).
        let path = NSTemporaryDirectory() + "lantern-prog-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sh"
        try "#!/bin/sh\necho up\nexec cat\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        chmod(path, 0o755)
        let server = try ServerProcess.start(["--", path])
        defer { server.kill() }
        let first = try server.webSocket()
        #expect(try Programs.text(first) == "up")
        chmod(path, 0o644)
        let second = try server.webSocket()
        let (messages, code) = try Programs.readToClose(second)
        #expect(messages.isEmpty && code == 1011)
        #expect(server.stderrLine(containing: ["exec-fail id=2", "cannot start"]) != nil)
        try Programs.send(first, "still here")
        #expect(try Programs.text(first) == "still here", "the other connection's program goes on")
    }

    @Test func messagesAfterTheProgramClosedItsStdinAreDroppedAndItsExitStillCloses() throws {
        // Reads one line, closes its stdin, answers, and exits 2 s later: meanwhile the session
        // stays up (no stall, no error) while further messages go nowhere.
        let server = try ServerProcess.start(["--send-timeout", "1", "--", "sh", "-c",
                                              "read -r line; exec 0<&-; echo \"got $line\"; sleep 2; echo done"])
        defer { server.kill() }
        let client = try server.webSocket()
        try Programs.send(client, "one")
        #expect(try Programs.text(client) == "got one")
        // Written to a closed pipe (EPIPE): dropped at once, well within the send timeout.
        for n in 0..<50 { try Programs.send(client, "dropped \(n)") }
        let (messages, code) = try Programs.readToClose(client)
        #expect(messages == ["done"])
        #expect(code == 1000)
        #expect(Programs.count(server, "exec-stalled") == 0)
    }

    @Test func aProgramThatIsNotThereFailsAtStartup() throws {
        let server = try ServerProcess(rawArguments: ["--port", "0", "--", "no-such-program-here"])
        #expect(server.waitForExit(timeout: 10))
        #expect(server.exitStatus == 1)
        #expect(server.stderrLine(containing: ["cannot run no-such-program-here"]) != nil)
    }
}
