/// Live WebSocket connections: the tutorial's `connections` list, but one that shrinks.
/// Every way a connection ends goes through `remove`, so the count is the truth.
final class Registry: @unchecked Sendable {
    private let lock = Lock()
    private var connections: [UInt64: ConnectionHandle] = [:]

    /// Adds a connection; returns the count including it.
    func add(_ handle: ConnectionHandle) -> Int {
        lock.locked {
            connections[handle.id] = handle
            return connections.count
        }
    }

    /// Removes a connection; returns the count left.
    func remove(_ handle: ConnectionHandle) -> Int {
        lock.locked {
            connections[handle.id] = nil
            return connections.count
        }
    }

    var count: Int { lock.locked { connections.count } }

    /// A copy of the current connections, to act on without holding the lock.
    func snapshot() -> [ConnectionHandle] { lock.locked { Array(connections.values) } }
}
