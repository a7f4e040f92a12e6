import Glibc

/// What a run does: see `BenchOptions.usage`.
enum BenchMode: String, Sendable {
    case echo, hold, churn, dump, zlib
}

/// Command-line options of `lantern-bench` (flag names follow wsbench's loadgen where they overlap).
struct BenchOptions: Sendable {
    var mode: BenchMode = .echo
    var host = "127.0.0.1"
    var port = 0
    var path = "/ws"
    var connections = 1
    var size = 32
    var duration = 3.0
    var warmup = 1.0
    var binary = false
    var deflate = false
    var deflateOffer = "permessage-deflate; client_max_window_bits"
    var deflateLevel: Int32 = 1
    var skipFirst = false
    var threads = 1
    var maxPending = 128
    var timeout = 10.0
    var pool = 64
    var serverPID: Int32 = 0
    var verbose = false

    static let usage = """
        usage: lantern-bench MODE -p PORT [options]        MODE = echo | hold | churn | dump | zlib
          echo   C connections; each sends one masked message, waits for the whole echo, checks
                 every byte and the opcode, repeats. Reports msgs/s, MB/s, p50/p99/max latency.
          hold   opens C WebSockets and keeps them idle for D seconds; with --pid reports the
                 server's RSS before and after, and per connection.
          churn  C slots, each looping connect + handshake + one echo + close; reports conns/s.
          dump   prints the first --pool payloads of --size bytes, one per line (no server needed).
          zlib   compresses the payloads in a loop at several zlib windows / memLevels for D seconds
                 each and prints µs and bytes per message, after checking that they inflate back
                 (no server needed; e.g. zlib -s 2048 -d 2).
        options:
          -p, --port N        server port (required)         --host A     IPv4 address (127.0.0.1)
              --path P        request path (/ws)
          -c, --conns C       connections / slots (1)        -s, --size S message bytes (32)
          -d, --duration D    measured seconds (3)           -w, --warmup W  warm-up seconds (1)
              --binary        binary messages of random bytes (default: JSON-like text)
              --deflate       offer permessage-deflate and compress every message
              --deflate-offer S   extension offer ("permessage-deflate; client_max_window_bits")
              --deflate-level L   zlib level of our messages (1)
              --skip-first    read and discard the greeting the server sends on open
          -t, --threads T     epoll threads (1)              --pool N     distinct payloads (64)
              --pid PID       server process: report its RSS and CPU
              --max-pending N connects in flight (128)       --timeout S  connect + handshake limit (10)
          -v, --verbose       log the first errors on stderr
        Last line: RESULT mode=... key=value ... (the same keys as wsbench's loadgen).
        """

    /// Parses `arguments` (without the program name); prints the usage and exits 2 on a mistake.
    static func parse(_ arguments: [String]) -> BenchOptions {
        var options = BenchOptions()
        guard let first = arguments.first else { fail("missing MODE") }
        if first == "-h" || first == "--help" { writeLine(usage, to: 1); exit(0) }
        guard let mode = BenchMode(rawValue: first) else { fail("unknown mode \(first)") }
        options.mode = mode
        var rest = arguments.dropFirst()
        func value(_ flag: String) -> String {
            guard let v = rest.popFirst() else { fail("\(flag) needs a value") }
            return v
        }
        func number<T: LosslessStringConvertible>(_ flag: String) -> T {
            let text = value(flag)
            guard let n = T(text) else { fail("bad value for \(flag): \(text)") }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "-p", "--port": options.port = number(flag)
            case "--host": options.host = value(flag)
            case "--path": options.path = value(flag)
            case "-c", "--conns": options.connections = number(flag)
            case "-s", "--size": options.size = number(flag)
            case "-d", "--duration": options.duration = number(flag)
            case "-w", "--warmup": options.warmup = number(flag)
            case "--binary": options.binary = true
            case "--text": options.binary = false
            case "--deflate": options.deflate = true
            case "--deflate-offer": options.deflateOffer = value(flag)
            case "--deflate-level": options.deflateLevel = number(flag)
            case "--skip-first": options.skipFirst = true
            case "-t", "--threads": options.threads = number(flag)
            case "--pool": options.pool = number(flag)
            case "--pid": options.serverPID = number(flag)
            case "--max-pending": options.maxPending = number(flag)
            case "--timeout": options.timeout = number(flag)
            case "-v", "--verbose": options.verbose = true
            case "-h", "--help": writeLine(usage, to: 1); exit(0)
            default: fail("unknown option \(flag)")
            }
        }
        guard options.mode == .dump || options.mode == .zlib || (1...65535).contains(options.port) else { fail("--port is required") }
        guard options.connections >= 1, options.size >= 0, options.size <= 64 << 20,
              options.threads >= 1, options.pool >= 1, options.duration > 0, options.warmup >= 0,
              (1...9).contains(options.deflateLevel)
        else { fail("option out of range") }
        options.threads = min(options.threads, options.connections)
        options.maxPending = max(options.maxPending, options.threads)
        return options
    }

    private static func fail(_ message: String) -> Never {
        writeLine("lantern-bench: \(message)\n\(usage)\n", to: 2)
        exit(2)
    }
}
