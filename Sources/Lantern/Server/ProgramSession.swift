#if canImport(Glibc)
import Glibc
#endif

/// `lantern -- PROGRAM`: the connection's side of the program it runs. Started after the 101
/// (and greeting); ended, after the session, by closing its stdin, then SIGTERM and SIGKILL
/// a grace period apart, until its output thread has reaped it. The connection's slot is
/// held until then, so --max-connections bounds the programs too.
extension Connection {
    /// Starts the program for `handle`; nil (and a 1011 close) when it cannot run.
    func startProgram(_ program: [String], _ handle: ConnectionHandle, _ head: HTTPRequestHead) -> ChildProcess? {
        let environment = ProgramEnvironment.build(
            connectionID: handle.id, client: client, serverPort: server.listeningPort, head: head,
            passing: server.configuration.programEnvironment, version: CommandLineOptions.version,
            lookup: { name in getenv(name).map { String(cString: $0) } })
        let child: ChildProcess
        switch ChildProcess.spawn(program, environment: environment) {
        case .success(let started): child = started
        case .failure(let error):
            server.log(.error, "exec-fail id=\(handle.id): cannot start \(program[0]): errno \(error.code)")
            handle.sendClose(CloseReason(.internalError, "cannot start program"))
            return nil
        }
        server.metrics.programsStarted.add(1)
        server.programs.add(child)
        server.log(.info, "exec-start id=\(handle.id) pid=\(child.pid)")
        let output = ProgramOutput(child: child, handle: handle, server: server)
        let started = startDetachedThread(Unmanaged.passRetained(output).toOpaque(), stackBytes: 64 << 10, entry: programOutputThreadMain) {
            Unmanaged<ProgramOutput>.fromOpaque($0).release()
        }
        guard started else {
            // Nobody would reap it: end it here.
            server.log(.error, "exec-fail id=\(handle.id): no thread for the program's output")
            child.closeStdin()
            _ = child.signal(SIGKILL)
            server.metrics.programExited(child.reap())
            server.programs.remove(child)
            handle.sendClose(CloseReason(.internalError, "cannot start program"))
            return nil
        }
        return child
    }

    /// Ends the program once the session is over and waits until it is reaped.
    func endProgram(_ child: ChildProcess) {
        ProgramReaper.end([child], graceMs: limits.programGraceMs, server: server)
        server.programs.remove(child)
    }
}

extension BuiltInHandler {
    /// Exec mode: the message (and a newline) to the program's stdin, within the send timeout.
    func deliver(_ message: Message, on session: Session) {
        guard let program = session.program else { return }
        switch program.child.writeLine(message.bytes, timeoutMs: program.sendTimeoutMs) {
        case .written, .closed:
            // Closed: the program stopped reading on purpose; its exit (if any) ends the session.
            break
        case .stalled:
            program.log(.warn, "exec-stalled id=\(session.id): the program has not read its stdin for the send timeout, closing 1011")
            // Later messages are dropped at once instead of each waiting out the timeout again.
            program.child.closeStdin()
            session.close(.internalError, reason: "program not reading")
        }
    }
}

/// What a session in exec mode needs to feed its program.
struct ProgramLink {
    let child: ChildProcess
    let sendTimeoutMs: Int
    let log: Log
}
