import Foundation
import Glibc

/// Errors of the process harness.
enum HarnessError: Error, CustomStringConvertible {
    case binaryMissing(String)
    case noListeningLine(stdout: String, stderr: String)
    case system(String, Int32)

    var description: String {
        switch self {
        case .binaryMissing(let path): "lantern binary not found at \(path) (set LANTERN_BIN)"
        case .noListeningLine(let out, let err): "no 'lantern listening on' line within the deadline; stdout=\(out.debugDescription) stderr=\(err.debugDescription)"
        case .system(let what, let code): "\(what) failed: \(String(cString: strerror(code)))"
        }
    }
}

/// Collects everything a pipe delivers, on its own thread, so a test can wait (with a deadline) for text.
final class PipeCollector: @unchecked Sendable {
    private let condition = NSCondition()
    private var bytes: [UInt8] = []
    private var reachedEOF = false

    /// Starts reading `fd` (which this object then owns and closes at EOF).
    init(fileDescriptor fd: Int32) {
        let thread = Thread { [self] in self.pump(fd) }
        thread.name = "lantern-pipe-\(fd)"
        thread.start()
    }

    private func pump(_ fd: Int32) {
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            condition.lock()
            bytes.append(contentsOf: chunk[0..<n])
            condition.broadcast()
            condition.unlock()
        }
        close(fd)
        condition.lock()
        reachedEOF = true
        condition.broadcast()
        condition.unlock()
    }

    /// Everything received so far, decoded as UTF-8 (lossy).
    var text: String {
        condition.lock(); defer { condition.unlock() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Waits until `predicate(text, eof)` holds or `timeout` passes; returns whether it held.
    @discardableResult
    func wait(timeout: TimeInterval, until predicate: (String, Bool) -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock(); defer { condition.unlock() }
        while true {
            if predicate(String(decoding: bytes, as: UTF8.self), reachedEOF) { return true }
            if Date() >= deadline { return false }
            // Wake at least every 50 ms so a missed broadcast can never stall us.
            _ = condition.wait(until: min(deadline, Date(timeIntervalSinceNow: 0.05)))
        }
    }

    /// Waits (bounded) until the writer side closed, so the text is complete.
    @discardableResult
    func waitForEOF(timeout: TimeInterval) -> Bool { wait(timeout: timeout) { $1 } }

    /// The first complete line containing `needle`, waiting up to `timeout` for it.
    func line(containing needle: String, timeout: TimeInterval) -> String? {
        var found: String?
        wait(timeout: timeout) { text, _ in
            found = Self.completeLines(text).first { $0.contains(needle) }
            return found != nil
        }
        return found
    }

    /// The first complete line for which `match` holds, waiting up to `timeout`.
    func line(timeout: TimeInterval, where match: (String) -> Bool) -> String? {
        var found: String?
        wait(timeout: timeout) { text, _ in
            found = Self.completeLines(text).first(where: match)
            return found != nil
        }
        return found
    }

    /// Lines terminated by a newline (a trailing partial line is not yet a line).
    static func completeLines(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeLast()  // text after the last "\n" (empty when the text ends with one)
        return lines
    }
}

/// A `lantern` process started for one test; it is killed when this object goes away.
final class ServerProcess: @unchecked Sendable {
    /// The binary under test: `$LANTERN_BIN`, else `lantern` in the products folder.
    static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["LANTERN_BIN"], !path.isEmpty { return path }
        return Bundle.main.bundleURL.appendingPathComponent("lantern").path
    }

    /// The running binary.
    let process = Process()
    /// Everything the server prints on stdout (the listening line first).
    let stdout: PipeCollector
    /// Everything the server logs on stderr, one line per event.
    let stderr: PipeCollector
    private let exited = DispatchSemaphore(value: 0)
    private let exitLock = NSLock()
    private var hasExited = false
    private let clientsLock = NSLock()
    private var clients: [RawClient] = []
    /// The port parsed from the listening line (0 when launched without waiting for it).
    private(set) var port: UInt16 = 0
    /// The host parsed from the listening line.
    private(set) var host = ""

    /// Launches the binary with exactly `arguments`, without waiting for anything. `LANTERN_*`
    /// variables come only from `environment`: the test runner's own are dropped (hermetic; CI
    /// sets LANTERN_BIN).
    init(rawArguments arguments: [String], environment: [String: String] = [:]) throws {
        let path = Self.binaryPath
        guard FileManager.default.isExecutableFile(atPath: path) else { throw HarnessError.binaryMissing(path) }
        let outPipe = try Self.makePipe(), errPipe = try Self.makePipe()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LANTERN_") }
            .merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(fileDescriptor: outPipe.write, closeOnDealloc: false)
        process.standardError = FileHandle(fileDescriptor: errPipe.write, closeOnDealloc: false)
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        stdout = PipeCollector(fileDescriptor: outPipe.read)
        stderr = PipeCollector(fileDescriptor: errPipe.read)
        defer { close(outPipe.write); close(errPipe.write) }  // the child holds its own copies
        try process.run()
    }

    /// Starts a server on 127.0.0.1 with an ephemeral port and waits (bounded) for its listening line.
    static func start(_ extraArguments: [String] = [], environment: [String: String] = [:], timeout: TimeInterval = 10) throws -> ServerProcess {
        try launch(["--host", "127.0.0.1", "--port", "0"] + extraArguments, environment: environment, timeout: timeout)
    }

    /// Starts the binary with exactly `arguments` and waits (bounded) for `lantern listening on HOST:PORT`.
    static func launch(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval = 10) throws -> ServerProcess {
        let server = try ServerProcess(rawArguments: arguments, environment: environment)
        let prefix = "lantern listening on "
        var firstLine: String?
        server.stdout.wait(timeout: timeout) { text, eof in
            firstLine = PipeCollector.completeLines(text).first
            return firstLine != nil || eof
        }
        guard let line = firstLine, line.hasPrefix(prefix),
              let colon = line.lastIndex(of: ":"),
              let port = UInt16(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)), port != 0
        else {
            server.kill()
            throw HarnessError.noListeningLine(stdout: server.stdout.text, stderr: server.stderr.text)
        }
        server.host = String(line[line.index(line.startIndex, offsetBy: prefix.count)..<colon])
        server.port = port
        return server
    }

    deinit { kill() }

    /// The server's process id.
    var pid: Int32 { process.processIdentifier }

    /// Waits up to `timeout` for the process to end; returns whether it did.
    @discardableResult
    func waitForExit(timeout: TimeInterval) -> Bool {
        exitLock.lock(); defer { exitLock.unlock() }
        if hasExited { return true }
        if exited.wait(timeout: .now() + timeout) == .timedOut { return false }
        hasExited = true
        return true
    }

    /// Exit status when the process exited normally, nil when a signal ended it (or it still runs).
    var exitStatus: Int32? {
        guard waitForExit(timeout: 0) else { return nil }
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// Sends `signal` to the process (no-op once it has exited).
    func send(signal: Int32) {
        guard !waitForExit(timeout: 0) else { return }
        Glibc.kill(pid, signal)
    }

    /// Connects a raw TCP client to this server; `stop()` closes it first.
    func connect(timeout: TimeInterval = 5) throws -> RawClient {
        track(try RawClient(port: port, timeout: timeout))
    }

    /// Connects and completes a WebSocket handshake on this server; `stop()` closes it first.
    func webSocket(path: String = RawClient.webSocketPath, timeout: TimeInterval = 5) throws -> RawClient {
        track(try RawClient.webSocket(port: port, path: path, timeout: timeout))
    }

    private func track(_ client: RawClient) -> RawClient {
        clientsLock.lock(); defer { clientsLock.unlock() }
        clients.append(client)
        return client
    }

    /// Closes the clients made by `connect`/`webSocket`, then SIGTERM, up to `grace` seconds, then SIGKILL;
    /// returns whether SIGTERM alone was enough. (Closing first spares the server's wait for close replies.)
    @discardableResult
    func stop(grace: TimeInterval = 3) -> Bool {
        clientsLock.lock()
        let open = clients
        clients.removeAll()
        clientsLock.unlock()
        for client in open { client.close() }
        send(signal: SIGTERM)
        if waitForExit(timeout: grace) { return true }
        kill()
        return false
    }

    /// SIGKILL and a bounded reap.
    func kill() {
        send(signal: SIGKILL)
        waitForExit(timeout: 5)
    }

    /// Waits (bounded) for a stderr line containing every one of `fragments`.
    func stderrLine(containing fragments: [String], timeout: TimeInterval = 5) -> String? {
        stderr.line(timeout: timeout) { line in fragments.allSatisfy { line.contains($0) } }
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw HarnessError.system("pipe", errno) }
        // Close-on-exec: servers started in parallel by other tests must not inherit our pipe ends,
        // or EOF would wait for them (Foundation's Process also closes fds >= 3 in the child; belt and braces).
        // The child's dup2 onto 1/2 clears the flag for itself.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }
}
