#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// Startup, signal handling and shutdown; the workers (`WorkerPool`) accept and serve.
public enum Server {
    /// Runs until SIGTERM/SIGINT; returns the process exit status.
    public static func run<Handler: MessageHandler>(_ configuration: Configuration, handler: Handler) -> Int32 {
        var configuration = configuration
        if let path = configuration.accessTokenFile {
            switch AccessToken.load(path: path) {
            case .success(let token): configuration.accessToken = token
            case .failure(let error):
                Log(level: configuration.logLevel)(.error, "--access-token-file " + error.message)
                return 1
            }
        }
        if let program = configuration.program?.first, !isRunnable(program) {
            Log(level: configuration.logLevel)(.error, "cannot run " + program + ": not an executable file" + (program.utf8.contains(UInt8(ascii: "/")) ? "" : " in PATH"))
            return 1
        }
        prepareSignals()
        openStandardDescriptors()
        lantern_limit_malloc_arenas(2)
        let context = ServerContext(configuration: configuration)
        guard let listener = openListener(configuration, context) else { return 1 }
        if configuration.unixSocket == nil { context.listeningPort = SocketAddress.port(listener.boundAddress) }
        Log.write("lantern listening on \(SocketAddress.describe(listener.boundAddress))\n", to: 1)
        let workers = WorkerPool(listener: listener, context: context, handler: handler)
        guard workers.start() else {
            context.log(.error, "cannot start a worker thread")
            return 1
        }
        // Connections are served by the workers; this thread waits for the stop signal.
        waitForStopSignal(context, listener)
        let status = shutDown(context)
        listener.close()
        return status
    }

    /// The TCP or Unix listener the configuration asks for; nil (and a log line) when it fails.
    private static func openListener(_ configuration: Configuration, _ context: ServerContext) -> Listener? {
        let result: Result<Listener, Listener.OpenError>
        if let path = configuration.unixSocket {
            result = Result { () throws(Listener.OpenError) in try Listener.openUnix(path: path, mode: configuration.unixSocketMode, backlog: 1024) }
        } else {
            result = Result { () throws(Listener.OpenError) in
                let (listener, fellBack) = try Listener.open(
                    host: configuration.host, port: configuration.port, backlog: 1024, ipv6Unavailable: configuration.simulateNoIPv6)
                if fellBack { context.log(.info, "IPv6 is not available here: listening on IPv4 only (0.0.0.0)") }
                return listener
            }
        }
        guard case .failure(let error) = result else { return try? result.get() }
        let why: String
        switch error {
        case .badAddress: why = configuration.unixSocket == nil ? "not a numeric IPv4 or IPv6 address" : "not a usable Unix socket path (1-107 bytes)"
        case .notASocket: why = "the path exists and is not a socket (left as it is)"
        case .socketInUse: why = "another server is accepting on that socket"
        case .system(let call, let errno):
            why = String(decoding: call.utf8Bytes, as: UTF8.self) + " failed: " + (errno.code == EADDRINUSE ? "address already in use" : "errno \(errno.code)")
        }
        let place = configuration.unixSocket.map { "unix:" + $0 } ?? (configuration.host ?? "[::]") + ":\(configuration.port)"
        context.log(.error, "cannot listen on " + place + ": " + why)
        return nil
    }

    /// 1. Clears the signal mask inherited from the parent (a test runner may have blocked SIGTERM).
    /// 2. Restores default dispositions an exec'ing parent may have set to ignore.
    /// 3. Ignores SIGPIPE: a write to a vanished peer must be an error, not death.
    /// 4. Blocks SIGTERM/SIGINT in every thread; one thread takes them with sigwait.
    private static func prepareSignals() {
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        signal(SIGTERM, SIG_DFL)
        signal(SIGINT, SIG_DFL)
        signal(SIGPIPE, SIG_IGN)
        var stops = stopSignals()
        pthread_sigmask(SIG_BLOCK, &stops, nil)
    }

    /// A daemon started with 0, 1 or 2 closed would hand those numbers to its first pipes and
    /// sockets, and a program's stdout could land on a client's socket: fill them with /dev/null.
    /// Whatever else it inherited stays Lantern's alone (close-on-exec).
    private static func openStandardDescriptors() {
        for fd: Int32 in 0...2 where lantern_is_open(fd) == 0 {
            _ = open("/dev/null", O_RDWR)
        }
        lantern_cloexec_from(3)
    }

    /// Whether `program` names an executable file the way `posix_spawnp` will look for it (a
    /// path when it has a `/`, else each PATH directory): a typo fails at startup, not on
    /// every connection.
    private static func isRunnable(_ program: String) -> Bool {
        if program.utf8.contains(UInt8(ascii: "/")) { return access(program, X_OK) == 0 }
        let path = getenv("PATH").map { String(cString: $0) } ?? ProgramEnvironment.defaultPath
        return Array(path.utf8).split(separator: UInt8(ascii: ":")).contains { directory in
            access(String(decoding: directory, as: UTF8.self) + "/" + program, X_OK) == 0
        }
    }

    private static func stopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
    }

    /// Blocks until SIGTERM/SIGINT, then stops new connections: shutting the listener down
    /// wakes every worker waiting in `accept` (Linux returns EINVAL), and they leave.
    private static func waitForStopSignal(_ context: ServerContext, _ listener: Listener) {
        var set = stopSignals()
        var received: Int32 = 0
        while sigwait(&set, &received) != 0 {}
        context.log(.info, "signal \(received): stopping")
        context.beginStopping()
        listener.shutdown()
    }

    /// Sends 1001 to every open WebSocket, waits briefly for their close replies, and reports 0.
    /// Programs (exec mode) are ended first, the way a leaving client ends one: stdin closed,
    /// SIGTERM, SIGKILL; what they print meanwhile still reaches their clients.
    private static func shutDown(_ context: ServerContext) -> Int32 {
        let programs = context.programs.snapshot()
        if !programs.isEmpty {
            context.log(.info, "shutting down: ending \(programs.count) programs")
            ProgramReaper.end(programs, graceMs: context.configuration.limits.programGraceMs, server: context)
        }
        context.log(.info, "shutting down: closing \(context.registry.count) connections")
        let deadline = MonotonicClock.nowMs() + 1_500
        // A fresh snapshot each round: handshakes that finish during shutdown get their 1001 too.
        // trySendClose is cheap for connections already closed and never waits on a stalled write.
        while context.registry.count > 0 && MonotonicClock.nowMs() < deadline {
            for handle in context.registry.snapshot() {
                _ = handle.trySendClose(.shuttingDown)
            }
            usleep(5_000)
        }
        return 0
    }
}

/// Starts a detached thread with an explicit stack size; on failure runs `cleanup` on the argument.
func startDetachedThread(
    _ argument: UnsafeMutableRawPointer,
    stackBytes: Int,
    entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
    cleanup: (UnsafeMutableRawPointer) -> Void
) -> Bool {
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, stackBytes)
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    var thread = pthread_t()
    if pthread_create(&thread, &attributes, entry, argument) != 0 {
        cleanup(argument)
        return false
    }
    return true
}
