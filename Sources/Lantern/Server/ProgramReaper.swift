#if canImport(Glibc)
import Glibc
#endif

/// The end of programs: stdin closed, then SIGTERM to those still running after the grace
/// period, then SIGKILL after another; returns once each is reaped (by its output thread).
enum ProgramReaper {
    static func end(_ children: [ChildProcess], graceMs: Int, server: ServerContext) {
        for child in children { child.closeStdin(waiting: false) }
        for (signal, name) in [(SIGTERM, "SIGTERM"), (SIGKILL, "SIGKILL")] {
            let deadline = MonotonicClock.nowMs() + Int64(graceMs)
            let running = children.filter { $0.waitForExit(timeoutMs: MonotonicClock.msUntil(deadline)) == nil }
            if running.isEmpty { return }
            for child in running {
                if child.signal(signal) { server.metrics.programsKilled.add(1) }
                server.log(.info, "exec-kill pid=\(child.pid) \(name)")
            }
        }
        for child in children { _ = child.waitForExit(timeoutMs: nil) }
    }
}
