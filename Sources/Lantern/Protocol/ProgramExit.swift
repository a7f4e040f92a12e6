/// How a program run for a WebSocket ended, from its `waitpid` status, and the close code
/// the client gets for it (issue 18's lifecycle table).
public enum ProgramExit: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    /// Decodes a wait status (the layout of Linux's `WIFEXITED`/`WTERMSIG` macros, which Swift
    /// does not import): low 7 bits 0 = exited, with the status in bits 8-15; otherwise the
    /// signal number (0x7f would be a stopped child, which `waitpid` without WUNTRACED never reports).
    public init(waitStatus: Int32) {
        let signal = waitStatus & 0x7f
        self = signal == 0 ? .exited((waitStatus >> 8) & 0xff) : .signaled(signal)
    }

    /// 0 -> 1000 (normal closure); anything else -> 1011 (the server could not go on, §7.4.1).
    public var closeCode: CloseCode { self == .exited(0) ? .normalClosure : .internalError }

    /// For the log: `status=3` or `signal=9`.
    public var text: String {
        switch self {
        case .exited(let status): return "status=\(status)"
        case .signaled(let signal): return "signal=\(signal)"
        }
    }
}
