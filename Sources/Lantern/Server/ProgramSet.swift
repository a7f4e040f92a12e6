/// The programs running, for shutdown to end them all before the 1001 round.
final class ProgramSet: @unchecked Sendable {
    private let lock = Lock()
    private var children: [ChildProcess] = []

    func add(_ child: ChildProcess) { lock.locked { children.append(child) } }

    func remove(_ child: ChildProcess) { lock.locked { children.removeAll { $0 === child } } }

    func snapshot() -> [ChildProcess] { lock.locked { children } }
}
