#if canImport(Glibc)
import Glibc
#endif

/// Checks a connection's socket for the client's next bytes for a short while before its thread
/// sleeps in `recv`. Sleeping costs a wake-up that the client's core pays for (an
/// inter-processor interrupt, a VM exit under a hypervisor) and a switch back in here; a client
/// that answers at once is then served without either (1 x 32 B echoes: 20k -> 41-44k msgs/s;
/// churn +19 %). Each check first yields, so every other runnable thread goes first: on a busy
/// core the deadline passes while others run.
struct BusyPoll {
    /// How long to keep checking, µs (`Limits.busyPollMicroseconds`); 0 turns polling off.
    let budgetMicroseconds: Int
    /// Polls in a row that ended with nothing to read, kept below 32 (see `countMiss`).
    private(set) var missed = 0

    init(budgetMicroseconds: Int) { self.budgetMicroseconds = budgetMicroseconds }

    /// Reads into `buffer` if bytes arrive within the budget; nil when none came and the caller
    /// should block. `afterAnswering`: the connection has just answered a message.
    mutating func read(into buffer: inout ReadBuffer, from socket: Socket, afterAnswering: Bool) throws(Errno) -> Int? {
        // A peer that keeps missing the window (a busy client far behind, a person typing) is
        // then polled for only once in 16 waits, to notice when it speeds up. 64 connections on
        // one core answer only after ~500 µs: polling for them cost 3 % of the echo rate.
        let skipped = missed >= 3 && missed % 16 != 0
        if skipped { countMiss() }
        guard budgetMicroseconds > 0 && !skipped else {
            // Just answered: let the other runnable connection threads go first. By the time
            // this one runs again its peer has often sent the next message, so the read finds
            // it instead of sleeping. (64 x 32 B echoes: +14-44 % msgs/s, p99 halved.)
            if afterAnswering { sched_yield() }
            return nil
        }
        let deadline = MonotonicClock.nowUs() + Int64(budgetMicroseconds)
        repeat {
            sched_yield()
            do {
                let read = try buffer.fill(from: socket, wait: false)
                missed = 0
                return read
            } catch {
                guard error.isTimeout else { throw error }
            }
        } while MonotonicClock.nowUs() < deadline
        countMiss()
        return nil
    }

    /// One more wait without a reply in the window. The count only matters modulo 16 once past
    /// 16, so it cycles through 16...31 instead of growing for as long as the connection lives:
    /// a peer that is always slow passed 2^31 waits in ~25 days at 1000 messages/s, and a
    /// 32-bit `Int` (ARMv7) then trapped.
    mutating func countMiss() { missed = missed >= 31 ? 16 : missed + 1 }
}
