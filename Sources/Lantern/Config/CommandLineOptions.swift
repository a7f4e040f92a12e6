/// What the command line asked for.
public enum CommandLineRequest {
    case run(Configuration)
    case help
    case version
    /// `--settings-file` (hidden): print `settingsFile`, the packages' /etc/default/lantern.
    case settingsFile
    /// A bad flag or value: the message, to print with the usage (exit 2).
    case usageError(String)
}

/// Flags and their `LANTERN_*` environment twins; flags win over the environment.
public enum CommandLineOptions {
    /// The release, as in the file `VERSION` at the top of the repository (a unit test keeps the
    /// two equal; the packages, archives and changelog read that file). A plain constant: the
    /// Embedded build compiles these sources with swiftc directly, without resources.
    public static let version = "0.1.0"

    struct Option: Sendable {
        let flag: String
        let value: String  // placeholder shown in help; empty for switches (which take no value)
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
        Option(flag: "--host", value: "ADDR", help: "address to listen on (numeric IPv4/IPv6, or localhost; 0.0.0.0 = IPv4 only, :: = IPv6 only) [every address, IPv4 and IPv6]") { c, v in
            c.host = v; return !v.isEmpty
        },
        Option(flag: "--port", value: "N", help: "TCP port, 0 = any free port [8080]") { c, v in
            guard let p = DecimalNumber.parse(v.utf8, max: 65535) else { return false }; c.port = UInt16(p); return true
        },
        Option(flag: "--unix-socket", value: "PATH", help: "listen on this Unix socket INSTEAD of TCP (--host/--port unused; a stale socket file is replaced) [off]") { c, v in
            c.unixSocket = v; return !v.isEmpty
        },
        Option(flag: "--unix-socket-mode", value: "OCTAL", help: "permissions of the --unix-socket file [0660]") { c, v in
            let digits = Array(v.utf8)
            guard (1...4).contains(digits.count), digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) else { return false }
            c.unixSocketMode = digits.reduce(0) { $0 << 3 | UInt32($1 - UInt8(ascii: "0")) }
            return true
        },
        Option(flag: "--greeting", value: "TEXT", help: "text sent on open, \"\" for none [Welcome to simple echo server]") { c, v in
            c.greeting = Array(v.utf8); return true
        },
        // At most 1 GiB: zlib counts its buffers in 32-bit lengths, and a whole message is held.
        Option(flag: "--max-message-bytes", value: "N", help: "largest message accepted (up to 1 GiB), else close 1009 [1048576]") { c, v in
            setInt(v, min: 1, max: 1 << 30, &c.limits.maxMessageBytes)
        },
        Option(flag: "--max-buffered-bytes", value: "N", help: "bytes of messages still arriving or inflated, all clients together; beyond, close 1013 [33554432]") { c, v in
            setInt(v, min: 1, &c.limits.maxBufferedBytes)
        },
        Option(flag: "--max-header-bytes", value: "N", help: "largest HTTP request head, else 431 [8192]") { c, v in
            setInt(v, min: 256, &c.limits.maxHeaderBytes)
        },
        Option(flag: "--max-connections", value: "N", help: "open connections before 503 [512]") { c, v in
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
        Option(flag: "--busy-poll-us", value: "N", help: "check this long for a client's next message before sleeping, 0 = never [100]") { c, v in
            setInt(v, min: 0, max: 10_000, &c.limits.busyPollMicroseconds)
        },
 
        Option(flag: "--no-deflate", value: "", help: "never negotiate permessage-deflate") { c, _ in
            c.deflate.enabled = false; return true
        },
        Option(flag: "--deflate-memory", value: "PRESET", help: "small|default|max: zlib memory per connection; sets the window, mem-level, client-window and both no-context-takeover flags, so give those after it [default]") { c, v in
            guard let p = DeflatePolicy.preset(v) else { return false }
            c.deflate.sendMaxWindowBits = p.sendMaxWindowBits
            c.deflate.memLevel = p.memLevel
            c.deflate.requestReceiveMaxWindowBits = p.requestReceiveMaxWindowBits
            c.deflate.sendNoContextTakeover = p.sendNoContextTakeover
            c.deflate.requestReceiveNoContextTakeover = p.requestReceiveNoContextTakeover
            return true
        },
        Option(flag: "--deflate-window-bits", value: "N", help: "our compressor's window, 9-15 [12]") { c, v in
            setInt(v, min: 9, max: 15, &c.deflate.sendMaxWindowBits)
        },
        Option(flag: "--deflate-mem-level", value: "N", help: "our compressor's zlib memLevel, 1-9 [4]") { c, v in
            setInt(v, min: 1, max: 9, &c.deflate.memLevel)
        },
        Option(flag: "--deflate-level", value: "N", help: "zlib compression level, 1-9 [1]") { c, v in
            setInt(v, min: 1, max: 9, &c.deflate.level)
        },
        Option(flag: "--deflate-client-window-bits", value: "N|off", help: "ask clients that allow it for this window, 9-15 [14]") { c, v in
            if v == "off" { c.deflate.requestReceiveMaxWindowBits = nil; return true }
            var bits = 0
            guard setInt(v, min: 9, max: 15, &bits) else { return false }
            c.deflate.requestReceiveMaxWindowBits = bits
            return true
        },
        Option(flag: "--deflate-server-no-context-takeover", value: "", help: "reset (and free) our compressor after each message") { c, _ in
            c.deflate.sendNoContextTakeover = true; return true
        },
        Option(flag: "--deflate-client-no-context-takeover", value: "", help: "ask clients to reset theirs, so our inflater is freed too") { c, _ in
            c.deflate.requestReceiveNoContextTakeover = true; return true
        },
        Option(flag: "--deflate-threshold", value: "BYTES", help: "send smaller messages uncompressed [64]") { c, v in
            setInt(v, min: 0, &c.deflate.thresholdBytes)
        },
        Option(flag: "--deflate-budget", value: "BYTES", help: "process-wide zlib memory; beyond it send uncompressed [33554432]") { c, v in
            setInt(v, min: 0, &c.deflate.budgetBytes)
        },
        Option(flag: "--mode", value: "MODE", help: "echo|broadcast: reply to the sender, or send to everyone [echo]") { c, v in
            switch v {
            case "echo": c.mode = .echo
            case "broadcast": c.mode = .broadcast
            default: return false
            }
            return true
        },
        Option(flag: "--exec-env", value: "NAME", help: "after --: also pass this variable of Lantern's environment to the program (repeatable; env: comma list) [none]") { c, v in
            var any = false
            for item in Array(v.utf8).split(separator: UInt8(ascii: ",")) {
                let name = ASCII.trimmed(item)
                guard !name.isEmpty, !name.contains(UInt8(ascii: "=")) else { return false }
                c.programEnvironment.append(String(decoding: name, as: UTF8.self))
                any = true
            }
            return any
        },
        Option(flag: "--exec-grace", value: "SECS", help: "after --: time a program gets to exit once its stdin is closed, before SIGTERM, then again before SIGKILL [1]") { c, v in
            setMilliseconds(v, &c.limits.programGraceMs)
        },
        Option(flag: "--max-queued-bytes", value: "N", help: "broadcast: bytes queued for a slow client before closing it 1008 [1048576]") { c, v in
            setInt(v, min: 1024, &c.limits.maxQueuedBytes)
        },
        Option(flag: "--allow-origin", value: "ORIGIN", help: "also allow this browser Origin (repeatable; env: comma list; * = any) [same host only]") { c, v in
            var any = false
            for item in Array(v.utf8).split(separator: UInt8(ascii: ",")) {
                let origin = ASCII.trimmed(item)
                if origin.isEmpty { continue }
                c.origins.allowed.append(origin.map(ASCII.lowercased))
                any = true
            }
            return any
        },
        Option(flag: "--trust-proxy", value: "ADDR|CIDR|unix", help: "believe Forwarded / X-Forwarded-For from these peers (repeatable; env: comma list) [none]") { c, v in
            var any = false
            for item in Array(v.utf8).split(separator: UInt8(ascii: ",")) {
                let proxy = ASCII.trimmed(item)
                if proxy.isEmpty { continue }
                guard c.trustedProxies.add(proxy) else { return false }
                any = true
            }
            return any
        },
        Option(flag: "--access-token-file", value: "PATH", help: "require the token in this file (16-256 of A-Z a-z 0-9 - . _ ~) for every WebSocket and /metrics [off]") { c, v in
            c.accessTokenFile = v; return !v.isEmpty
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
        if let error = applyEnvironment(&config, environment) { return .usageError(error) }
        // Flags used so far: a repeatable one replaces its environment list on first use.
        var used: [String] = []
        var i = 0
        while i < arguments.count {
            var arg = arguments[i]
            i += 1
            if arg == "--" {
                // Everything after it is the program and its arguments, as given (no shell).
                guard i < arguments.count, !arguments[i].isEmpty else { return .usageError("-- needs a program") }
                guard config.mode == .echo else { return .usageError("--mode cannot be used with a program after --") }
                config.program = Array(arguments[i...])
                config.mode = .exec
                break
            }
            if arg == "--help" || arg == "-h" { return .help }
            if arg == "--version" { return .version }
            if arg == "--settings-file" { return .settingsFile }
            var inlineValue: String? = nil
            if let eq = arg.utf8.firstIndex(of: UInt8(ascii: "=")), arg.hasPrefix("--") {
                // Sliced as UTF-8: Character indexing would need Unicode tables in Embedded builds.
                inlineValue = String(decoding: arg.utf8[arg.utf8.index(after: eq)...], as: UTF8.self)
                arg = String(decoding: arg.utf8[..<eq], as: UTF8.self)
            }
            guard let option = options.first(where: { $0.flag == arg }) else { return .usageError("unknown option \(arg)") }
            let value: String
            if option.value.isEmpty {
                if inlineValue != nil { return .usageError("\(arg) takes no value") }
                value = ""
            } else if let inlineValue {
                value = inlineValue
            } else {
                guard i < arguments.count else { return .usageError("\(arg) needs a value") }
                value = arguments[i]
                i += 1
            }
            if !used.contains(where: { $0 == option.flag }) {
                used.append(option.flag)
                switch option.flag {
                case "--allow-origin": config.origins.allowed = []
                case "--trust-proxy": config.trustedProxies = TrustedProxies()
                case "--exec-env": config.programEnvironment = []
                default: break
                }
            }
            if !option.apply(&config, value) { return .usageError("invalid value for \(arg): \(value)") }
        }
        // A greeting is for the echo and broadcast pages; a program speaks for itself.
        if config.program != nil && environment("LANTERN_GREETING") == nil && !used.contains(where: { $0 == "--greeting" }) {
            config.greeting = []
        }
        if config.limits.pingIntervalMs > 0 && config.limits.idleTimeoutMs <= config.limits.pingIntervalMs {
            return .usageError("--idle-timeout must be longer than --ping-interval")
        }
        return .run(config)
    }

    /// Applies every `LANTERN_*` variable set; returns the usage error of a bad one.
    private static func applyEnvironment(_ config: inout Configuration, _ environment: (String) -> String?) -> String? {
        for option in options {
            guard let value = environment(option.environmentName) else { continue }
            if option.value.isEmpty {
                // Switches: LANTERN_NO_DEFLATE=1 turns one on, 0 leaves it off.
                switch value {
                case "1", "true", "yes": _ = option.apply(&config, "")
                case "0", "false", "no", "": break
                default: return "invalid value for \(option.environmentName): \(value)"
                }
            } else if !option.apply(&config, value) {
                return "invalid value for \(option.environmentName): \(value)"
            }
        }
        // Not a flag: tests force the no-IPv6 fallback with it.
        if let value = environment("LANTERN_TEST_NO_IPV6"), value == "1" { config.simulateNoIPv6 = true }
        return nil
    }

    /// The `--help` text: every flag, its environment variable and default.
    public static var usage: String {
        var text = """
            usage: lantern [options]
                   lantern [options] -- PROGRAM [ARGS...]

            A small WebSocket echo server: open http://HOST:PORT/client in a browser.

            After --, each WebSocket connection runs PROGRAM (no shell): every message the client
            sends is written to its stdin with a newline, and every line it prints goes back as a
            message. It exits 0: close 1000; otherwise close 1011. When the client leaves, its
            stdin closes, then SIGTERM and SIGKILL follow --exec-grace apart. For example
              lantern -- tools/examples/counter.sh        lantern -- tools/examples/reading.sh

            options (each also read from the environment variable shown):

            """
        for option in options {
            var left = "  " + option.flag
            if !option.value.isEmpty { left += " " + option.value }
            if left.utf8.count >= 30 { left += "\n" + String(repeating: " ", count: 30) }
            while left.utf8.count < 30 { left += " " }
            text += left + option.help + "\n" + String(repeating: " ", count: 30) + option.environmentName + "\n"
        }
        text += "  --help                      show this text\n  --version                   print the version\n"
        return text
    }

    /// Defaults in `[...]` that describe rather than give a value: their line is left empty.
    /// Compared byte-wise: String == and hashing would need Unicode tables in Embedded builds.
    static let describedDefaults = ["every address, IPv4 and IPv6", "off", "none", "same host only"]

    /// The default of `option` as a value for its `LANTERN_*` variable, or nil when there is none
    /// to write: a switch is "0"; otherwise the help text's trailing `[...]`, unless it describes.
    static func defaultValue(_ option: Option) -> String? {
        if option.value.isEmpty { return "0" }
        let help = Array(option.help.utf8)
        guard help.last == UInt8(ascii: "]"), let open = help.lastIndex(of: UInt8(ascii: "[")) else { return nil }
        let text = String(decoding: help[(open + 1)..<(help.count - 1)], as: UTF8.self)
        return describedDefaults.contains { $0.utf8.elementsEqual(text.utf8) } ? nil : text
    }

    /// The packages' `/etc/default/lantern` (`lantern --settings-file`): every `LANTERN_*`
    /// setting of the table behind `usage`, commented out at its default, for systemd's
    /// `EnvironmentFile=` (which takes `"..."` for a value with spaces) and OpenWrt's init script.
    public static var settingsFile: String {
        var text = """
            # Settings for lantern.service (read with EnvironmentFile=); written by `lantern --settings-file`.
            # Every setting is commented out at its default: remove the "#" and edit, then
            #   sudo systemctl restart lantern
            # A switch takes 1 (on) or 0 (off). A line with nothing after "=" has no value to show
            # (its default is a behaviour, e.g. [off]): uncomment it only with a value, since an
            # empty one is refused. The flags are in `lantern --help`; one on the unit's
            # ExecStart= line would win over this file.

            """
        for option in options {
            text += "\n# " + option.flag + (option.value.isEmpty ? "" : " " + option.value) + ": " + option.help + "\n"
            var value = defaultValue(option) ?? ""
            if value.utf8.contains(UInt8(ascii: " ")) { value = "\"" + value + "\"" }
            text += "#" + option.environmentName + "=" + value + "\n"
        }
        return text
    }

    private static func setInt(_ text: String, min: Int, max: Int = Int.max, _ target: inout Int) -> Bool {
        guard let v = DecimalNumber.parseInt(text.utf8, in: min...max) else { return false }
        target = v
        return true
    }

    /// The longest timeout a flag takes, s (23 days): its milliseconds fit a 32-bit `Int`, which
    /// is what `Int` is on 32-bit ARM, and `poll`'s timeout.
    static let maxTimeoutSeconds = 2_000_000

    /// Seconds with up to three decimals ("30", "0.5", "0.125") into milliseconds.
    /// Digits only: no sign, no exponent, at most `maxTimeoutSeconds`.
    private static func setMilliseconds(_ text: String, _ target: inout Int) -> Bool {
        let parts = Array(text.utf8).split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        // ".25" is fine, "" and "." are not.
        guard parts.count <= 2, let whole = parts.first, !whole.isEmpty || parts.count == 2 else { return false }
        guard let seconds = whole.isEmpty ? 0 : DecimalNumber.parseInt(whole, in: 0...maxTimeoutSeconds) else { return false }
        var ms = seconds * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard fraction.count <= 3, var scaled = DecimalNumber.parseInt(fraction, in: 0...999) else { return false }
            for _ in fraction.count..<3 { scaled *= 10 }
            ms += scaled
        }
        target = ms
        return true
    }
}
