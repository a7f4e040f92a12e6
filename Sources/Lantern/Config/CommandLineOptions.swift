/// What the command line asked for.
public enum CommandLineRequest {
    case run(Configuration)
    case help
    case version
    /// A bad flag or value: the message, to print with the usage (exit 2).
    case usageError(String)
}

/// Flags and their `LANTERN_*` environment twins; flags win over the environment.
public enum CommandLineOptions {
    public static let version = "0.1.0"

    struct Option: Sendable {
        let flag: String
        let value: String  // placeholder shown in help; empty for switches
        let help: String
        let apply: @Sendable (inout Configuration, String) -> Bool

        /// `--max-message-bytes` -> `LANTERN_MAX_MESSAGE_BYTES`.
        var environmentName: String {
            var name = "LANTERN_"
            for b in flag.utf8.dropFirst(2) {
                name.unicodeScalars.append(Unicode.Scalar(b == UInt8(ascii: "-") ? UInt8(ascii: "_") : (b >= 97 && b <= 122 ? b - 32 : b)))
            }
            return name
        }
    }

    static let options: [Option] = [
        Option(flag: "--host", value: "ADDR", help: "address to listen on (numeric IPv4/IPv6) [0.0.0.0]") { c, v in
            c.host = v; return !v.isEmpty
        },
        Option(flag: "--port", value: "N", help: "TCP port, 0 = any free port [8080]") { c, v in
            guard let p = UInt16(v) else { return false }; c.port = p; return true
        },
        Option(flag: "--greeting", value: "TEXT", help: "text sent on open, \"\" for none [Welcome to simple echo server]") { c, v in
            c.greeting = Array(v.utf8); return true
        },
        Option(flag: "--max-message-bytes", value: "N", help: "largest message accepted, else close 1009 [1048576]") { c, v in
            setInt(v, min: 1, &c.limits.maxMessageBytes)
        },
        Option(flag: "--max-header-bytes", value: "N", help: "largest HTTP request head, else 431 [8192]") { c, v in
            setInt(v, min: 256, &c.limits.maxHeaderBytes)
        },
        Option(flag: "--max-connections", value: "N", help: "open connections before 503 [256]") { c, v in
            setInt(v, min: 1, &c.limits.maxConnections)
        },
        Option(flag: "--handshake-timeout", value: "SECS", help: "time to send a request head [5]") { c, v in
            setMilliseconds(v, &c.limits.handshakeTimeoutMs)
        },
        Option(flag: "--ping-interval", value: "SECS", help: "ping after this much silence, 0 = never [30]") { c, v in
            setMilliseconds(v, &c.limits.pingIntervalMs)
        },
        Option(flag: "--idle-timeout", value: "SECS", help: "close after this much silence [60]") { c, v in
            setMilliseconds(v, &c.limits.idleTimeoutMs)
        },
        Option(flag: "--send-timeout", value: "SECS", help: "close a peer that stops reading for this long [10]") { c, v in
            setMilliseconds(v, &c.limits.sendTimeoutMs)
        },
        Option(flag: "--log-level", value: "LEVEL", help: "error|warn|info|debug [info]") { c, v in
            switch v {
            case "error": c.logLevel = .error
            case "warn": c.logLevel = .warn
            case "info": c.logLevel = .info
            case "debug": c.logLevel = .debug
            default: return false
            }
            return true
        },
    ]

    /// Parses `arguments` (without the program name) over `environment` lookups.
    public static func parse(_ arguments: [String], environment: (String) -> String?) -> CommandLineRequest {
        var config = Configuration()
        for option in options {
            if let value = environment(option.environmentName), !option.apply(&config, value) {
                return .usageError("invalid value for \(option.environmentName): \(value)")
            }
        }
        var i = 0
        while i < arguments.count {
            var arg = arguments[i]
            i += 1
            if arg == "--help" || arg == "-h" { return .help }
            if arg == "--version" { return .version }
            var inlineValue: String? = nil
            if let eq = arg.utf8.firstIndex(of: UInt8(ascii: "=")), arg.hasPrefix("--") {
                inlineValue = String(arg[arg.index(after: eq)...])
                arg = String(arg[..<eq])
            }
            guard let option = options.first(where: { $0.flag == arg }) else { return .usageError("unknown option \(arg)") }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard i < arguments.count else { return .usageError("\(arg) needs a value") }
                value = arguments[i]
                i += 1
            }
            if !option.apply(&config, value) { return .usageError("invalid value for \(arg): \(value)") }
        }
        if config.limits.pingIntervalMs > 0 && config.limits.idleTimeoutMs <= config.limits.pingIntervalMs {
            return .usageError("--idle-timeout must be longer than --ping-interval")
        }
        return .run(config)
    }

    /// The `--help` text: every flag, its environment variable and default.
    public static var usage: String {
        var text = "usage: lantern [options]\n\nA small WebSocket echo server: open http://HOST:PORT/client in a browser.\n\noptions (each also read from the environment variable shown):\n"
        for option in options {
            var left = "  " + option.flag
            if !option.value.isEmpty { left += " " + option.value }
            while left.utf8.count < 30 { left += " " }
            text += left + option.help + "\n" + String(repeating: " ", count: 30) + option.environmentName + "\n"
        }
        text += "  --help                      show this text\n  --version                   print the version\n"
        return text
    }

    private static func setInt(_ text: String, min: Int, _ target: inout Int) -> Bool {
        guard let v = Int(text), v >= min else { return false }
        target = v
        return true
    }

    /// Seconds with an optional fraction ("30", "0.5") into milliseconds.
    private static func setMilliseconds(_ text: String, _ target: inout Int) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int(parts[0].isEmpty ? "0" : String(parts[0])), whole >= 0 else { return false }
        var ms = whole * 1000
        if parts.count == 2 {
            let frac = parts[1].prefix(3)
            guard !frac.isEmpty, let f = Int(String(frac)) else { return false }
            var scaled = f
            for _ in frac.count..<3 { scaled *= 10 }
            ms += scaled
        }
        target = ms
        return true
    }
}
