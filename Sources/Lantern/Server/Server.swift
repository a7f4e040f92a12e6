#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// The accept loop, thread spawning and signal handling.
public enum Server {
    /// Runs until SIGTERM/SIGINT; returns the process exit status.
    public static func run<Handler: MessageHandler>(_ configuration: Configuration, handler: Handler) -> Int32 {
        prepareSignals()
        lantern_limit_malloc_arenas(2)
        let context = ServerContext(configuration: configuration)
        let listener: Listener
        do {
            listener = try Listener.open(host: configuration.host, port: configuration.port, backlog: 1024)
        } catch {
            switch error {
            case .badAddress:
                context.log(.error, "cannot listen: \(configuration.host) is not a numeric IPv4 or IPv6 address")
            case .system(let call, let errno):
                let why = errno.code == EADDRINUSE ? "address already in use" : "errno \(errno.code)"
                context.log(.error, "cannot listen on \(configuration.host):\(configuration.port): \(String(decoding: call.utf8Bytes, as: UTF8.self)) failed: \(why)")
            }
            return 1
        }
        Log.write("lantern listening on \(SocketAddress.describe(listener.boundAddress))\n", to: 1)
        guard startSignalThread(SignalContext(server: context, listener: listener)) else {
            context.log(.error, "cannot start the signal thread")
            return 1
        }
        acceptLoop(listener, context, handler)
        return shutDown(context)
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

    fileprivate static func stopSignals() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGTERM)
        sigaddset(&set, SIGINT)
        return set
    }

    private static func acceptLoop<Handler: MessageHandler>(_ listener: Listener, _ context: ServerContext, _ handler: Handler) {
        var lastResourceLogMs = 0
        while true {
            let socket: Socket
            do {
                socket = try listener.accept()
            } catch {
                if context.isStopping { return }
                if error.code == EMFILE || error.code == ENFILE || error.code == ENOMEM || error.code == ENOBUFS {
                    // Out of descriptors: back off so the loop does not spin, and say so once per burst.
                    let now = MonotonicClock.nowMs()
                    if now - lastResourceLogMs > 5_000 {
                        context.log(.warn, "accept: out of resources (errno \(error.code)); backing off")
                        lastResourceLogMs = now
                    }
                    usleep(50_000)
                }
                continue
            }
            if context.isStopping {
                socket.close()
                return
            }
            context.metrics.connectionsAccepted.add(1)
            guard context.claimSlot() else {
                refuseBusy(socket, context, why: "connection limit")
                continue
            }
            let connection = Connection(socket: socket, server: context, handler: handler)
            if !spawn(connection, context) {
                context.releaseSlot()
                refuseBusy(socket, context, why: "cannot create a thread")
            }
        }
    }

    /// 503 with Retry-After, then close; the client may try again later.
    private static func refuseBusy(_ socket: Socket, _ context: ServerContext, why: String) {
        context.log(.warn, "refused peer=\(socket.peerDescription()): \(why)")
        socket.setSendTimeout(milliseconds: 1_000)
        let bytes = HTTPResponse.plain(status: 503, message: "server busy, try again") { $0.header("Retry-After", "5") }
        _ = try? socket.writeAll(bytes)
        socket.shutdownWrite()
        socket.close()
    }

    private static func spawn<Handler: MessageHandler>(_ connection: Connection<Handler>, _ context: ServerContext) -> Bool {
        let base: ConnectionThread = connection
        return startDetachedThread(Unmanaged.passRetained(base).toOpaque(), stackBytes: 256 << 10, entry: connectionThreadMain) {
            Unmanaged<ConnectionThread>.fromOpaque($0).release()
        }
    }

    /// Sends 1001 to every open WebSocket, waits briefly for their close replies, and reports 0.
    private static func shutDown(_ context: ServerContext) -> Int32 {
        context.log(.info, "shutting down: closing \(context.registry.count) connections")
        let deadline = MonotonicClock.nowMs() + 1_500
        // A fresh snapshot each round: handshakes that finish during shutdown get their 1001 too.
        // trySendClose is cheap for connections already closed and never waits on a stalled write.
        while context.registry.count > 0 && MonotonicClock.nowMs() < deadline {
            for handle in context.registry.snapshot() {
                _ = handle.trySendClose(.goingAway, reason: "server shutting down")
            }
            usleep(5_000)
        }
        return 0
    }
}

/// Thread entry (a plain global function: closures from top-level code get actor-isolated).
/// It sees the non-generic base class, since a C function pointer cannot be generic.
private func connectionThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<ConnectionThread>.fromOpaque(argument!).takeRetainedValue().run()
    return nil
}

private final class SignalContext {
    let server: ServerContext
    let listener: Listener
    init(server: ServerContext, listener: Listener) {
        self.server = server
        self.listener = listener
    }
}

private func startSignalThread(_ context: SignalContext) -> Bool {
    startDetachedThread(Unmanaged.passRetained(context).toOpaque(), stackBytes: 64 << 10, entry: signalThreadMain) {
        Unmanaged<SignalContext>.fromOpaque($0).release()
    }
}

/// Waits for SIGTERM/SIGINT, then stops the accept loop (which then runs the shutdown).
private func signalThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let context = Unmanaged<SignalContext>.fromOpaque(argument!).takeRetainedValue()
    var set = Server.stopSignals()
    var received: Int32 = 0
    while sigwait(&set, &received) != 0 {}
    context.server.log(.info, "signal \(received): stopping")
    context.server.beginStopping()
    context.listener.shutdown()
    return nil
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
