#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// The non-generic face of `WorkerPool`, for the C thread entry.
class AcceptingWorkers {
    func work() {}
}

/// Threads that each accept a connection, serve it to the end and go back to `accept`.
/// Reusing threads saves a clone, a thread exit and their syscalls per connection, and having
/// the worker accept for itself saves the hand-off wake-up an acceptor thread would need.
/// One thread always waits in `accept` (it spawns a successor when it takes the last
/// connection); spare ones leave after `idleMs` without a connection, or at once when more
/// than `maxIdle` are waiting, so an idle server keeps a single worker.
final class WorkerPool<Handler: MessageHandler>: AcceptingWorkers, @unchecked Sendable {
    private let listener: Listener
    private let context: ServerContext
    private let handler: Handler
    private let maxIdle: Int
    private let lock = Lock()
    /// Threads waiting in `accept` (or on their way there).
    private var idle = 0
    private var lastResourceLogMs: Int64 = 0

    init(listener: Listener, context: ServerContext, handler: Handler, maxIdle: Int = 16) {
        self.listener = listener
        self.context = context
        self.handler = handler
        self.maxIdle = maxIdle
    }

    /// Starts the first worker; false if no thread could be created.
    func start() -> Bool {
        // The receive timeout bounding `accept` is how a spare worker notices it is not needed.
        let limits = context.configuration.limits
        listener.setInheritedOptions(sendTimeoutMs: limits.sendTimeoutMs, receiveTimeoutMs: limits.workerIdleMs)
        lock.locked { idle += 1 }
        return spawn()
    }

    override func work() {
        while true {
            let socket: Socket, peer: sockaddr_storage
            do {
                (socket, peer) = try listener.accept()
            } catch {
                if context.isStopping { return leave() }
                if error.isTimeout {
                    // A quiet spell: hand the freed heap back to the system instead of keeping the
                    // peak (not on every last close, which would trim once per connection when
                    // clients come one at a time).
                    if context.takeHeapTrim() { lantern_malloc_trim() }
                    if leaveIfSpare() { return }
                } else if error.code == EMFILE || error.code == ENFILE || error.code == ENOMEM || error.code == ENOBUFS {
                    backOff(error)
                }
                continue
            }
            if context.isStopping {
                socket.close()
                return leave()
            }
            context.metrics.connectionsAccepted.add(1)
            // At the cap the refusal is quick and this thread stays the acceptor: no successor.
            guard context.claimSlot() else {
                refuseBusy(socket, peer, why: "connection limit")
                continue
            }
            guard keepOneAccepting() else {
                context.releaseSlot()
                refuseBusy(socket, peer, why: "cannot create a thread")
                lock.locked { idle += 1 }
                continue
            }
            let inherited = context.configuration.limits.workerIdleMs
            Connection(socket: socket, peer: peer, receiveTimeoutMs: inherited, server: context, handler: handler).run()
            if !returnToIdle() { return }
        }
    }

    /// This thread stops waiting in `accept`; if it was the last one there, a successor starts.
    /// False when that successor could not be created (this thread must stay the acceptor).
    private func keepOneAccepting() -> Bool {
        let mustSpawn: Bool = lock.locked {
            idle -= 1
            guard idle == 0 else { return false }
            idle += 1
            return true
        }
        guard mustSpawn else { return true }
        if spawn() { return true }
        lock.locked { idle -= 1 }
        return false
    }

    private func returnToIdle() -> Bool {
        lock.locked {
            guard idle < maxIdle else { return false }
            idle += 1
            return true
        }
    }

    /// After an idle period: leave unless this is the last thread waiting in `accept`.
    private func leaveIfSpare() -> Bool {
        lock.locked {
            guard idle > 1 else { return false }
            idle -= 1
            return true
        }
    }

    private func leave() { lock.locked { idle -= 1 } }

    /// Out of descriptors: wait so the loop does not spin, and say so once per burst
    /// (whichever worker sees it first).
    private func backOff(_ error: Errno) {
        let now = MonotonicClock.nowMs()
        let shouldLog: Bool = lock.locked {
            guard now - lastResourceLogMs > 5_000 else { return false }
            lastResourceLogMs = now
            return true
        }
        if shouldLog { context.log(.warn, "accept: out of resources (errno \(error.code)); backing off") }
        usleep(50_000)
    }

    /// 503 with Retry-After, then close; the client may try again later.
    private func refuseBusy(_ socket: Socket, _ peer: sockaddr_storage, why: String) {
        context.log(.warn, "refused peer=\(SocketAddress.describe(peer)): \(why)")
        context.metrics.refused(.serviceUnavailable)
        socket.setSendTimeout(milliseconds: 1_000)
        _ = try? socket.writeAll(HTTPResponse.refusal(.serviceUnavailable))
        socket.shutdownWrite()
        socket.close()
    }

    private func spawn() -> Bool {
        let base: AcceptingWorkers = self
        return startDetachedThread(Unmanaged.passRetained(base).toOpaque(), stackBytes: 256 << 10, entry: workerThreadMain) {
            Unmanaged<AcceptingWorkers>.fromOpaque($0).release()
        }
    }
}

/// Thread entry (a plain global function: a C function pointer cannot be generic or capture).
private func workerThreadMain(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<AcceptingWorkers>.fromOpaque(argument!).takeRetainedValue().work()
    return nil
}
