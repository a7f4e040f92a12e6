#if canImport(Glibc)
import Glibc
#endif
import CSystem

/// One program run for one WebSocket (`lantern -- PROGRAM`): its pid, Lantern's ends of its
/// three pipes, and how it ended. The connection thread writes its stdin; the output thread
/// (`ProgramOutput`) reads stdout and stderr and is the only one to reap it; any thread may
/// signal it, and only while it is not reaped, so a pid the kernel reused is never signalled.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let stdoutFD: Int32
    let stderrFD: Int32
    /// -1 once closed; guarded by `stdinLock`, held for a whole write.
    private var stdinFD: Int32
    private let stdinLock = Lock()
    private let state: UnsafeMutablePointer<pthread_mutex_t>
    private let reapedSignal: UnsafeMutablePointer<pthread_cond_t>
    /// Guarded by `state`.
    private var exit: ProgramExit?
    private var signalled = false

    private init(pid: pid_t, stdin: Int32, stdout: Int32, stderr: Int32) {
        self.pid = pid
        stdinFD = stdin
        stdoutFD = stdout
        stderrFD = stderr
        state = .allocate(capacity: 1)
        pthread_mutex_init(state, nil)
        reapedSignal = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Timed waits by the monotonic clock: a wall-clock step must not stretch a grace period.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(reapedSignal, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(reapedSignal)
        reapedSignal.deallocate()
        pthread_mutex_destroy(state)
        state.deallocate()
    }

    /// Starts `program` (searched in PATH when it has no `/`) with exactly three descriptors:
    /// pipes as 0, 1 and 2 (every other descriptor of Lantern is close-on-exec), its own
    /// process group (so a shell script's children are signalled with it), no blocked signals
    /// and default dispositions (Lantern ignores SIGPIPE and blocks SIGTERM/SIGINT).
    static func spawn(_ program: [String], environment: [String]) -> Result<ChildProcess, Errno> {
        var pipes: [Int32] = []
        func closeAll() { for fd in pipes { _ = close(fd) } }
        for _ in 0..<3 {
            var ends: [Int32] = [-1, -1]
            guard lantern_pipe2(&ends, O_CLOEXEC) == 0 else { let e = Errno.current; closeAll(); return .failure(e) }
            pipes += ends
        }
        // pipes: [stdin read, stdin write, stdout read, stdout write, stderr read, stderr write]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipes[0], 0)
        posix_spawn_file_actions_adddup2(&actions, pipes[3], 1)
        posix_spawn_file_actions_adddup2(&actions, pipes[5], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var reset = sigset_t()
        sigemptyset(&reset)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&reset, signal) }
        posix_spawnattr_setsigdefault(&attributes, &reset)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var argv = program.map { strdup($0) }
        argv.append(nil)
        var envp = environment.map { strdup($0) }
        envp.append(nil)
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0]!, &actions, &attributes, argv, envp)
        // The child's ends now live in the child (or nowhere, on failure).
        for fd in [pipes[0], pipes[3], pipes[5]] { _ = close(fd) }
        guard rc == 0 else {
            for fd in [pipes[1], pipes[2], pipes[4]] { _ = close(fd) }
            return .failure(Errno(rc))
        }
        // Our end of stdin never blocks: a write waits for room by `poll`, within the send timeout.
        _ = lantern_set_nonblocking(pipes[1])
        return .success(ChildProcess(pid: pid, stdin: pipes[1], stdout: pipes[2], stderr: pipes[4]))
    }

    /// Writes `bytes` and a newline as one line, all within `timeoutMs`.
    func writeLine(_ bytes: UnsafeRawBufferPointer, timeoutMs: Int) -> StdinOutcome {
        stdinLock.locked {
            guard stdinFD >= 0 else { return .closed }
            var newline = UInt8(ascii: "\n")
            return withUnsafeBytes(of: &newline) { PipeWriter(fd: stdinFD, timeoutMs: timeoutMs).write(bytes, $0) }
        }
    }

    /// Closes the program's stdin (its cue to finish). `waiting: false` gives up when a write
    /// holds it: the shutdown path must not wait out a send timeout.
    func closeStdin(waiting: Bool = true) {
        let close = {
            if self.stdinFD >= 0 { _ = Glibc.close(self.stdinFD); self.stdinFD = -1 }
        }
        if waiting { stdinLock.locked(close) } else { _ = stdinLock.tryLocked(close) }
    }

    /// Signals the program's process group unless it is already reaped. Returns whether this
    /// was the first signal Lantern sent it (for the "killed" count).
    func signal(_ number: Int32) -> Bool {
        locked {
            guard exit == nil else { return false }
            _ = kill(-pid, number)
            defer { signalled = true }
            return !signalled
        }
    }

    /// Whether it has exited (a zombie not yet reaped counts), without reaping it.
    var hasExited: Bool {
        var info = siginfo_t()
        let rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
        return rc == 0 && info.si_signo == SIGCHLD
    }

    /// Waits for it to exit and reaps it: only the output thread calls this, once. It waits
    /// without reaping first, so `signal` (under the same lock as the reaping) never meets a
    /// reused pid.
    func reap() -> ProgramExit {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        return locked {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let ended = ProgramExit(waitStatus: status)
            exit = ended
            pthread_cond_broadcast(reapedSignal)
            return ended
        }
    }

    /// How it ended, waiting at most `timeoutMs` (nil: as long as it takes; a deadline that
    /// has passed: not at all) for the reaping.
    func waitForExit(timeoutMs: Int?) -> ProgramExit? {
        let timeoutMs = timeoutMs.map { max(0, $0) }
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int64(deadline.tv_nsec) + Int64((timeoutMs ?? 0) % 1000) * 1_000_000
        deadline.tv_sec += time_t((timeoutMs ?? 0) / 1000) + time_t(nanoseconds / 1_000_000_000)
        deadline.tv_nsec = .init(nanoseconds % 1_000_000_000)
        return locked {
            while exit == nil {
                if timeoutMs == nil {
                    pthread_cond_wait(reapedSignal, state)
                } else if pthread_cond_timedwait(reapedSignal, state, &deadline) == ETIMEDOUT {
                    break
                }
            }
            return exit
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(state)
        defer { pthread_mutex_unlock(state) }
        return body()
    }
}
