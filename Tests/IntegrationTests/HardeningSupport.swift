import Foundation
import Glibc
import Testing

// Probes and small concurrency helpers for the hardening tests (the log helpers are shared with
// CloseTests): /proc counters, the TCP table, rlimits, the pids cgroup, log-line counting and the
// registry probe, and threads for concurrent clients.

/// Monotonic seconds, and polling of conditions that no read can wait for (/proc counters).
enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

}

enum Fmt {
    static func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }
    static func s(_ seconds: Double) -> String { String(format: "%.2f s", seconds) }
}

/// The server's threads, descriptors and memory, from /proc.
enum ProcStat {
    /// The server's own threads. Under qemu-user (`LANTERN_EMULATED=1`) the process also holds
    /// qemu's own threads (its RCU thread: 1 with qemu 7-9), which the server never sees: they are
    /// left out (see `emulatorThreads`), so every count means what it means natively.
    static func threads(_ pid: Int32, caller: String = #function) -> Int {
        guard Emulation.active else { return entries("/proc/\(pid)/task") }
        return threadIDs(pid, caller: caller).count
    }

    /// Every task of the process, the emulator's included (what a pids cgroup counts).
    static func tasks(_ pid: Int32) -> Int { entries("/proc/\(pid)/task") }

    /// The thread IDs of the process right now (under emulation: the guest's threads only).
    static func threadIDs(_ pid: Int32, caller: String = #function) -> Set<String> {
        let all = Set((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [])
        guard Emulation.active else { return all }
        return all.subtracting(emulatorThreads(pid, caller: caller))
    }

    private static let emulatorLock = NSLock()
    nonisolated(unsafe) private static var emulatorTIDs: [String: Set<String>] = [:]
    nonisolated(unsafe) private static var rssNoted: Set<String> = []

    /// The threads qemu-user made for itself in process `pid`, found once per process (on the first
    /// count, which every test takes while the server is idle: `baseline`) and remembered: qemu makes
    /// them before the guest starts and keeps them to the end. qemu creates its helper threads
    /// (qemu_thread_create) with every signal blocked but the synchronous faults; a guest thread
    /// runs with the host mask open (qemu keeps the guest's mask itself; the server blocks only
    /// SIGINT and SIGTERM) except for moments inside qemu (a thread being created, a signal being
    /// delivered), so: the tasks that block 32 or more signals in 5 samples 20 ms apart.
    static func emulatorThreads(_ pid: Int32, caller: String = #function) -> Set<String> {
        // Keyed by pid and start time: a later server may get the same pid.
        let stat = read("/proc/\(pid)/stat")
        let start = stat.lastIndex(of: ")").map { stat[stat.index(after: $0)...].split(separator: " ").dropFirst(19).first.map(String.init) ?? "" } ?? ""
        let key = "\(pid) \(start)"
        emulatorLock.lock(); defer { emulatorLock.unlock() }
        if let known = emulatorTIDs[key] { return known }
        var found: Set<String>?
        for _ in 0..<5 {
            let all = Set((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? [])
            let now = all.filter { blocksAlmostEverySignal(pid, $0) }
            found = found.map { $0.intersection(now) } ?? now
            usleep(20_000)
        }
        let result = found ?? []
        emulatorTIDs[key] = result
        Emulation.note("\(caller.split(separator: "(").first ?? ""): thread counts of the server leave out \(result.count) qemu thread(s) (found at start: they block every signal)")
        return result
    }

    private static func blocksAlmostEverySignal(_ pid: Int32, _ tid: String) -> Bool {
        let text = read("/proc/\(pid)/task/\(tid)/status")
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("SigBlk:") }),
              let mask = UInt64(line.dropFirst("SigBlk:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return false }
        return mask.nonzeroBitCount >= 32
    }

    /// Threads and fds of an idle server once its start-up is over (the first worker starts after
    /// the listening line is printed): at least 2 threads, and the same counts twice in a row.
    static func baseline(_ pid: Int32, caller: String = #function) -> (threads: Int, fds: Int) {
        _ = Poll.until(timeout: 5) { threads(pid, caller: caller) >= 2 }
        var last = (threads(pid), fds(pid))
        _ = Poll.until(timeout: 2) {
            let now = (threads(pid), fds(pid))
            defer { last = now }
            return now == last
        }
        return last
    }
    static func fds(_ pid: Int32) -> Int { entries("/proc/\(pid)/fd") }

    /// A `kB` (or count) field of /proc/PID/status, e.g. VmRSS.
    static func status(_ pid: Int32, _ key: String) -> Int? {
        for line in read("/proc/\(pid)/status").split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.dropFirst(key.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Resident memory of the server, kB: VmRSS natively. Under qemu-user (`LANTERN_EMULATED=1`)
    /// VmRSS also holds qemu's own memory: its executable, translated code and glibc heap, and that
    /// heap grows with every guest thread qemu has run (12,000 connections of churn: +28 MB on armv7,
    /// +10 MB on aarch64, while the guest's own pages stayed at ~350 kB). So under emulation this is
    /// the guest's share: the mappings below both qemu's brk heap and its executable image. qemu
    /// puts the guest at guest_base 0 (a 32-bit guest below 4 GiB; aarch64's image at 0x200000, its
    /// mmaps from 0x5500000000), its own [heap] and image above (0x55..., 0x7f...), its mmaps
    /// higher still. If no file-backed mapping (the guest binary) lies below them, the guest cannot
    /// be told apart: then VmRSS (qemu included), with an `EMULATED:` line.
    static func residentKB(_ pid: Int32, caller: String = #function) -> Int? {
        guard Emulation.active else { return status(pid, "VmRSS") }
        if let guest = guestResidentKB(pid) {
            emulatorLock.lock()
            let first = rssNoted.insert("\(pid) \(caller)").inserted
            emulatorLock.unlock()
            if first {
                Emulation.note("\(caller.split(separator: "(").first ?? ""): RSS of the server is the guest's mappings, not VmRSS (qemu's own heap grows with every thread it runs)")
            }
            return guest
        }
        Emulation.note("cannot tell the guest's memory from qemu's in /proc/\(pid)/smaps: RSS includes qemu's")
        return status(pid, "VmRSS")
    }

    /// Rss of the mappings below the emulator's heap and executable image (see `residentKB`), or nil.
    static func guestResidentKB(_ pid: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let exe = String(decoding: buffer[0..<n], as: UTF8.self)
        var maps: [(start: UInt64, path: String, rss: Int)] = []
        for line in read("/proc/\(pid)/smaps").split(separator: "\n") {
            guard let first = line.first else { continue }
            if first.isHexDigit && !first.isUppercase {  // "start-end perms offset dev inode [path]"
                let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
                guard let range = fields.first, let dash = range.firstIndex(of: "-"),
                      let start = UInt64(range[..<dash], radix: 16) else { continue }
                let path = fields.count > 5 ? fields[5].trimmingCharacters(in: .whitespaces) : ""
                maps.append((start, path, 0))
            } else if line.hasPrefix("Rss:"), !maps.isEmpty {
                maps[maps.count - 1].rss = Int(line.dropFirst(4).split(separator: " ").first ?? "") ?? 0
            }
        }
        guard let host = maps.filter({ $0.path == exe || $0.path == "[heap]" }).map(\.start).min() else { return nil }
        let guest = maps.filter { $0.start < host }
        guard guest.contains(where: { $0.path.hasPrefix("/") }) else { return nil }
        return guest.reduce(0) { $0 + $1.rss }
    }

    /// User + system CPU time of the whole process, seconds.
    static func cpuSeconds(_ pid: Int32) -> Double {
        let text = read("/proc/\(pid)/stat")
        guard let close = text.lastIndex(of: ")") else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // Fields after the command: state is 3rd overall; utime and stime are the 14th and 15th.
        guard fields.count > 12, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func entries(_ path: String) -> Int {
        guard let dir = opendir(path) else { return -1 }
        defer { closedir(dir) }
        var n = 0
        while readdir(dir) != nil { n += 1 }
        return n - 2  // "." and ".."
    }

    static func read(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// /proc/net/tcp: bytes the server has not yet read on its accepted sockets.
enum TCPTable {
    static func serverReceiveQueued(port: UInt16) -> Int {
        var total = 0
        for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
            for line in ProcStat.read(path).split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                guard f.count > 4, f[3] == "01", let local = f[1].split(separator: ":").last, UInt16(local, radix: 16) == port,
                      let rx = f[4].split(separator: ":").last, let queued = Int(rx, radix: 16) else { continue }
                total += queued
            }
        }
        return total
    }
}

/// Which of `fds` become readable (data, EOF or error) within `timeout`.
enum Poller {
    static func readable(_ fds: [Int32], timeout: Double) -> [Int32] {
        var set = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let deadline = Clock.now() + timeout
        var seen: Set<Int32> = []
        while seen.count < fds.count {
            let remaining = deadline - Clock.now()
            if remaining <= 0 { break }
            let ready = poll(&set, nfds_t(set.count), Int32(remaining * 1000) + 1)
            if ready < 0 && errno != EINTR { break }
            for k in set.indices where set[k].revents != 0 {
                seen.insert(set[k].fd)
                set[k].events = 0
                set[k].fd = -1
            }
        }
        return fds.filter { seen.contains($0) }
    }
}

/// Resource limits of a running process, through util-linux `prlimit --pid`.
enum Rlimit {
    static func set(pid: Int32, _ resource: String, _ value: String) throws {
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        // Soft limit only: lowering the hard limit could not be undone without CAP_SYS_RESOURCE.
        tool.arguments = ["--pid", "\(pid)", "--\(resource)=\(value):"]
        try tool.run()
        tool.waitUntilExit()
        guard tool.terminationStatus == 0 else { throw HarnessError.system("prlimit --\(resource)", EINVAL) }
    }
}

/// A pids cgroup (v1) holding one process, to make its thread creation fail on purpose.
struct PidsCgroup {
    static let root = "/sys/fs/cgroup/pids"
    static var available: Bool { access(root + "/cgroup.procs", W_OK) == 0 }
    let path: String

    init(name: String) throws {
        path = Self.root + "/" + name
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw HarnessError.system("mkdir \(path)", errno) }
    }

    /// Moves every thread of `pid` into the group and caps the group at `maxTasks` tasks.
    func limit(pid: Int32, maxTasks: Int) throws {
        try write("pids.max", "\(maxTasks)")
        try write("cgroup.procs", "\(pid)")
    }

    /// Removes the group (it must be empty: call after the process has been reaped).
    func remove() { _ = rmdir(path) }

    private func write(_ file: String, _ value: String) throws {
        let fd = open(path + "/" + file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HarnessError.system("open \(file)", errno) }
        defer { close(fd) }
        let bytes = Array(value.utf8)
        guard Glibc.write(fd, bytes, bytes.count) == bytes.count else { throw HarnessError.system("write \(file)", errno) }
    }
}

/// Log-line counting and the registry probe.
enum Logs {
    static func count(_ event: String, in text: String) -> Int {
        PipeCollector.completeLines(text).filter { $0.contains(" \(event) ") }.count
    }

    /// Opens one more WebSocket and closes it cleanly: its lines must say open=1 then open=0,
    /// which proves the registry held nothing else (the ws-close lines before it number `after`).
    static func expectRegistryEmpty(_ server: ServerProcess, after previous: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        // A client sees its TCP close before the server's thread unregisters and logs it: wait for
        // the earlier connections' ws-close lines, or the probe can still count one as open.
        let settled = server.stderr.wait(timeout: 5) { text, _ in count("ws-close", in: text) >= previous }
        #expect(settled, "ws-close lines \(count("ws-close", in: server.stderr.text)) of \(previous)", sourceLocation: sourceLocation)
        do {
            let probe = try RawClient.webSocket(port: server.port)
            try probe.sendClose(code: 1000)
            var frame = try probe.readFrame()
            while frame.opcode != Op.close { frame = try probe.readFrame() }
            _ = try? probe.readUntilEOF(timeout: 3)
            probe.close()
        } catch {
            Issue.record("registry probe failed: \(error)", sourceLocation: sourceLocation)
            return
        }
        var probeLines: [String] = []
        let seen = server.stderr.wait(timeout: 5) { text, _ in
            let lines = PipeCollector.completeLines(text).filter { $0.contains(" ws-close ") }
            probeLines = Array(lines.dropFirst(previous))
            return !probeLines.isEmpty
        }
        #expect(seen && probeLines.first?.hasSuffix(" open=0") == true, "probe ws-close line: \(probeLines.first ?? "none") (registry not empty)", sourceLocation: sourceLocation)
        let opens = PipeCollector.completeLines(server.stderr.text).filter { $0.contains(" ws-open ") }
        #expect(opens.last?.hasSuffix(" open=1") == true, "probe ws-open line: \(opens.last ?? "none")", sourceLocation: sourceLocation)
    }
}

/// Threads for concurrent clients, with a bounded join.
final class Workers: @unchecked Sendable {
    private let condition = NSCondition()
    private var remaining: Int

    init(count: Int, stackSize: Int = 1 << 20, _ body: @escaping @Sendable (Int) -> Void) {
        remaining = count
        for i in 0..<count {
            let thread = Thread { [self] in
                body(i)
                condition.lock()
                remaining -= 1
                condition.broadcast()
                condition.unlock()
            }
            thread.stackSize = stackSize
            thread.start()
        }
    }

    var isDone: Bool { condition.lock(); defer { condition.unlock() }; return remaining == 0 }

    /// Waits up to `timeout` for every thread to finish; returns whether they did.
    @discardableResult
    func join(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock(); defer { condition.unlock() }
        while remaining > 0 {
            if !condition.wait(until: deadline) { return remaining == 0 }
        }
        return true
    }
}

/// A value shared between threads.
final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}

/// A shared counter handing out 0, 1, 2, ...
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n - 1 }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

/// Counts, samples and errors collected by client threads, asserted on the test's own thread.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var values: [String: [Double]] = [:]
    private var failures: [String] = []

    func add(_ key: String, _ n: Int = 1) { lock.lock(); counts[key, default: 0] += n; lock.unlock() }
    func sample(_ key: String, _ v: Double) { lock.lock(); values[key, default: []].append(v); lock.unlock() }
    func error(_ text: String) { lock.lock(); failures.append(text); lock.unlock() }
    subscript(key: String) -> Int { lock.lock(); defer { lock.unlock() }; return counts[key] ?? 0 }
    func samples(_ key: String) -> [Double] { lock.lock(); defer { lock.unlock() }; return values[key] ?? [] }
    var snapshot: [String: Int] { lock.lock(); defer { lock.unlock() }; return counts }
    var errors: [String] { lock.lock(); defer { lock.unlock() }; return failures }
}
