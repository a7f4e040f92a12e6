/// What every connection thread shares: configuration, the registry, the responder, the log.
final class ServerContext: @unchecked Sendable {
    let configuration: Configuration
    let registry = Registry()
    let responder = StaticResponder()
    let log: Log
    let deflateBudget: DeflateBudget
    let messageBudget: MessageBudget
    let metrics = Metrics()
    let hub: Hub
    /// The access token and its failure limiter; nil when no token is configured.
    let access: AccessGate?
    /// Exec mode: the programs running now.
    let programs = ProgramSet()
    /// The TCP port listened on (the one chosen for --port 0); nil on a Unix socket. Set before
    /// the first connection, read-only after.
    var listeningPort: UInt16? = nil
    private let lock = Lock()
    /// 64 bits: on 32-bit ARM an `Int` id trapped after 2^31 upgrades (~25 days at 1000/s).
    private var lastID: UInt64 = 0
    /// Connections with a live thread (HTTP or WebSocket), for the connection cap.
    private var activeCount = 0
    private var stopping = false
    /// The last connection left since the heap was last trimmed.
    private var trimPending = false

    init(configuration: Configuration) {
        self.configuration = configuration
        log = Log(level: configuration.logLevel)
        deflateBudget = DeflateBudget(limitBytes: configuration.deflate.budgetBytes)
        messageBudget = MessageBudget(limitBytes: configuration.limits.maxBufferedBytes)
        hub = Hub(registry: registry, log: log)
        access = configuration.accessToken.map(AccessGate.init)
    }

    func nextID() -> UInt64 { lock.locked { lastID += 1; return lastID } }

    /// Claims a connection slot; false when the cap is reached.
    func claimSlot() -> Bool {
        lock.locked {
            guard activeCount < configuration.limits.maxConnections else { return false }
            activeCount += 1
            return true
        }
    }

    /// Frees a slot; returns how many stay active.
    @discardableResult
    func releaseSlot() -> Int {
        lock.locked {
            activeCount -= 1
            if activeCount == 0 { trimPending = true }
            return activeCount
        }
    }

    /// True once per quiet spell: no connection is active and one has ended since the last call.
    func takeHeapTrim() -> Bool {
        lock.locked {
            guard activeCount == 0 && trimPending else { return false }
            trimPending = false
            return true
        }
    }

    var active: Int { lock.locked { activeCount } }

    var isStopping: Bool { lock.locked { stopping } }

    func beginStopping() { lock.locked { stopping = true } }
}
