import Testing
@testable import Lantern

/// The configuration's fields as strings, so a test can say which one it expects to change.
func fields(_ c: Configuration) -> [String: String] {
    [
        "host": c.host ?? "(every address)",
        "port": "\(c.port)",
        "greeting": String(decoding: c.greeting, as: UTF8.self),
        "maxMessageBytes": "\(c.limits.maxMessageBytes)",
        "maxBufferedBytes": "\(c.limits.maxBufferedBytes)",
        "maxHeaderBytes": "\(c.limits.maxHeaderBytes)",
        "maxConnections": "\(c.limits.maxConnections)",
        "handshakeTimeoutMs": "\(c.limits.handshakeTimeoutMs)",
        "pingIntervalMs": "\(c.limits.pingIntervalMs)",
        "idleTimeoutMs": "\(c.limits.idleTimeoutMs)",
        "sendTimeoutMs": "\(c.limits.sendTimeoutMs)",
        "keepAliveTimeoutMs": "\(c.limits.keepAliveTimeoutMs)",
        "closeTimeoutMs": "\(c.limits.closeTimeoutMs)",
        "busyPollMicroseconds": "\(c.limits.busyPollMicroseconds)",
        "logLevel": "\(c.logLevel)",
        "unixSocket": c.unixSocket ?? "(none)",
        "unixSocketMode": String(c.unixSocketMode, radix: 8),
        "trustedProxies": "\(c.trustedProxies.ranges.count) ranges, unix \(c.trustedProxies.unixSocket)",
    ]
}

/// Parses with an environment given as a dictionary.
func parseCommandLine(_ args: [String], _ env: [String: String] = [:]) -> CommandLineRequest {
    CommandLineOptions.parse(args, environment: { env[$0] })
}

/// The configuration of a `.run` result, or nil (recording an issue) for anything else.
func runConfiguration(_ request: CommandLineRequest, sourceLocation: SourceLocation = #_sourceLocation) -> Configuration? {
    if case .run(let c) = request { return c }
    Issue.record("expected .run, got \(request)", sourceLocation: sourceLocation)
    return nil
}

func isUsageError(_ request: CommandLineRequest) -> Bool {
    if case .usageError(let message) = request { return !message.isEmpty }
    return false
}

/// Fields that differ from the defaults.
func changedFields(_ c: Configuration) -> [String: String] {
    let defaults = fields(Configuration())
    return fields(c).filter { defaults[$0.key] != $0.value }
}

@Suite("CommandLineOptions")
struct CommandLineOptionsTests {
    @Test("no flags and no environment give the documented defaults")
    func defaults() throws {
        let c = try #require(runConfiguration(parseCommandLine([])))
        #expect(c.host == nil, "every address, IPv4 and IPv6")
        #expect(c.port == 8080)
        #expect(String(decoding: c.greeting, as: UTF8.self) == "Welcome to simple echo server")
        #expect(c.limits.maxMessageBytes == 1_048_576)
        #expect(c.limits.maxHeaderBytes == 8192)
        #expect(c.limits.maxConnections == 512)
        #expect(c.limits.handshakeTimeoutMs == 5_000)
        #expect(c.limits.pingIntervalMs == 30_000)
        #expect(c.limits.idleTimeoutMs == 60_000)
        #expect(c.limits.sendTimeoutMs == 10_000)
        #expect(c.logLevel == .info)
        // Unrelated environment variables are ignored.
        #expect(runConfiguration(parseCommandLine([], ["PORT": "1", "LANTERN": "x", "LANTERN_NOPE": "y"])).map(changedFields) == [:])
    }

    @Test("each flag, separate and with =", arguments: [
        ("--host", "127.0.0.1", "host", "127.0.0.1"),
        ("--host", "::1", "host", "::1"),
        ("--port", "9000", "port", "9000"),
        ("--port", "0", "port", "0"),
        ("--port", "65535", "port", "65535"),
        ("--greeting", "hi there", "greeting", "hi there"),
        ("--greeting", "", "greeting", ""),
        ("--greeting", "a=b", "greeting", "a=b"),
        ("--max-message-bytes", "1", "maxMessageBytes", "1"),
        ("--max-message-bytes", "16777216", "maxMessageBytes", "16777216"),
        ("--max-message-bytes", "1073741824", "maxMessageBytes", "1073741824"),
        ("--max-buffered-bytes", "1", "maxBufferedBytes", "1"),
        ("--max-buffered-bytes", "16777216", "maxBufferedBytes", "16777216"),
        ("--max-header-bytes", "256", "maxHeaderBytes", "256"),
        ("--max-header-bytes", "65536", "maxHeaderBytes", "65536"),
        ("--max-connections", "1", "maxConnections", "1"),
        ("--handshake-timeout", "2", "handshakeTimeoutMs", "2000"),
        ("--handshake-timeout", "0.5", "handshakeTimeoutMs", "500"),
        ("--handshake-timeout", ".25", "handshakeTimeoutMs", "250"),
        ("--handshake-timeout", "1.05", "handshakeTimeoutMs", "1050"),
        ("--handshake-timeout", "0.001", "handshakeTimeoutMs", "1"),
        ("--ping-interval", "0", "pingIntervalMs", "0"),
        ("--ping-interval", "10", "pingIntervalMs", "10000"),
        ("--idle-timeout", "120", "idleTimeoutMs", "120000"),
        ("--send-timeout", "3.5", "sendTimeoutMs", "3500"),
        ("--busy-poll-us", "0", "busyPollMicroseconds", "0"),
        ("--busy-poll-us", "10000", "busyPollMicroseconds", "10000"),
        ("--log-level", "error", "logLevel", "error"),
        ("--log-level", "warn", "logLevel", "warn"),
        ("--log-level", "debug", "logLevel", "debug"),
        ("--unix-socket", "/run/lantern.sock", "unixSocket", "/run/lantern.sock"),
        ("--unix-socket-mode", "0600", "unixSocketMode", "600"),
        ("--unix-socket-mode", "666", "unixSocketMode", "666"),
        ("--trust-proxy", "unix", "trustedProxies", "0 ranges, unix true"),
        ("--trust-proxy", "10.0.0.0/8", "trustedProxies", "1 ranges, unix false"),
        ("--trust-proxy", "10.0.0.1, fd00::/8,unix", "trustedProxies", "2 ranges, unix true"),
    ] as [(String, String, String, String)])
    func eachFlag(flag: String, value: String, field: String, expected: String) throws {
        for args in [[flag, value], ["\(flag)=\(value)"]] {
            let c = try #require(runConfiguration(parseCommandLine(args)), "\(args)")
            #expect(fields(c)[field] == expected, "\(args)")
            // Nothing else changed.
            #expect(changedFields(c).keys.allSatisfy { $0 == field }, "\(args): \(changedFields(c))")
        }
    }

    @Test("--port=0 asks for any free port")
    func portZero() throws {
        let c = try #require(runConfiguration(parseCommandLine(["--port=0"])))
        #expect(c.port == 0)
    }

    @Test("several flags together, the last of a repeated flag wins")
    func several() throws {
        let c = try #require(runConfiguration(parseCommandLine(["--port", "1", "--host=127.0.0.1", "--port=2", "--log-level", "warn"])))
        #expect(c.port == 2 && c.host == "127.0.0.1" && c.logLevel == .warn)
    }

    @Test("environment variables are read", arguments: [
        ("LANTERN_PORT", "9001", "port", "9001"),
        ("LANTERN_HOST", "127.0.0.1", "host", "127.0.0.1"),
        ("LANTERN_GREETING", "", "greeting", ""),
        ("LANTERN_MAX_MESSAGE_BYTES", "4096", "maxMessageBytes", "4096"),
        ("LANTERN_MAX_BUFFERED_BYTES", "16777216", "maxBufferedBytes", "16777216"),
        ("LANTERN_MAX_HEADER_BYTES", "1024", "maxHeaderBytes", "1024"),
        ("LANTERN_MAX_CONNECTIONS", "8", "maxConnections", "8"),
        ("LANTERN_HANDSHAKE_TIMEOUT", "1", "handshakeTimeoutMs", "1000"),
        ("LANTERN_PING_INTERVAL", "5", "pingIntervalMs", "5000"),
        ("LANTERN_IDLE_TIMEOUT", "90", "idleTimeoutMs", "90000"),
        ("LANTERN_SEND_TIMEOUT", "2", "sendTimeoutMs", "2000"),
        ("LANTERN_BUSY_POLL_US", "0", "busyPollMicroseconds", "0"),
        ("LANTERN_LOG_LEVEL", "debug", "logLevel", "debug"),
    ] as [(String, String, String, String)])
    func environment(name: String, value: String, field: String, expected: String) throws {
        let c = try #require(runConfiguration(parseCommandLine([], [name: value])))
        #expect(fields(c)[field] == expected)
        #expect(changedFields(c).keys.allSatisfy { $0 == field })
    }

    @Test("a flag wins over the environment")
    func flagWins() throws {
        let env = ["LANTERN_PORT": "9001", "LANTERN_LOG_LEVEL": "debug"]
        let c = try #require(runConfiguration(parseCommandLine(["--port", "9002"], env)))
        #expect(c.port == 9002)
        #expect(c.logLevel == .debug)
        let d = try #require(runConfiguration(parseCommandLine(["--port=0"], env)))
        #expect(d.port == 0)
    }

    @Test("a bad environment value is a usage error", arguments: [
        ("LANTERN_PORT", "http"), ("LANTERN_PORT", "70000"), ("LANTERN_MAX_MESSAGE_BYTES", "0"), ("LANTERN_LOG_LEVEL", "loud"),
        ("LANTERN_HOST", ""), ("LANTERN_IDLE_TIMEOUT", "x"),
    ] as [(String, String)])
    func badEnvironment(name: String, value: String) {
        let result = parseCommandLine([], [name: value])
        #expect(isUsageError(result), "\(result)")
        if case .usageError(let message) = result { #expect(message.contains(name)) }
    }

    @Test("unknown flags and arguments", arguments: [["--nope"], ["-p", "80"], ["port"], ["--port-number=1"], ["--PORT", "1"], ["--"], ["-"], ["--=1"]])
    func unknown(args: [String]) {
        let result = parseCommandLine(args)
        #expect(isUsageError(result), "\(args): \(result)")
    }

    @Test("a flag without its value", arguments: ["--port", "--host", "--greeting", "--log-level", "--idle-timeout"])
    func missingValue(flag: String) {
        #expect(isUsageError(parseCommandLine([flag])))
        #expect(isUsageError(parseCommandLine(["--log-level", "info", flag])))
    }

    @Test("bad values", arguments: [
        ("--port", "65536"), ("--port", "-1"), ("--port", "http"), ("--port", ""), ("--port", "80.5"), ("--port", " 80"), ("--port", "+80"),
        ("--max-connections", "+5"),
        ("--host", ""),
        ("--max-message-bytes", "0"), ("--max-message-bytes", "-5"), ("--max-message-bytes", "1.5"), ("--max-message-bytes", "1k"),
        ("--max-message-bytes", "99999999999999999999999"), ("--max-message-bytes", "1073741825"),
        ("--max-message-bytes", "9223372036854775807"),
        ("--max-buffered-bytes", "0"), ("--max-buffered-bytes", "-1"), ("--max-buffered-bytes", "16M"),
        ("--max-header-bytes", "255"), ("--max-header-bytes", "0"),
        ("--max-connections", "0"), ("--max-connections", "many"),
        ("--handshake-timeout", "abc"), ("--handshake-timeout", "-1"), ("--handshake-timeout", "1."), ("--handshake-timeout", ""),
        ("--handshake-timeout", "1.2.3"), ("--handshake-timeout", "."), ("--handshake-timeout", "1s"),
        ("--send-timeout", "0.x"),
        ("--busy-poll-us", "-1"), ("--busy-poll-us", "10001"), ("--busy-poll-us", "1.5"),
        ("--log-level", "verbose"), ("--log-level", "INFO"), ("--log-level", ""),
        ("--unix-socket", ""), ("--unix-socket-mode", "0800"), ("--unix-socket-mode", "12345"), ("--unix-socket-mode", ""),
        ("--unix-socket-mode", "rw"), ("--trust-proxy", "proxy.lan"), ("--trust-proxy", "10.0.0.0/33"), ("--trust-proxy", ""),
        ("--trust-proxy", "unix,nope"),
    ] as [(String, String)])
    func badValues(flag: String, value: String) {
        for args in [[flag, value], ["\(flag)=\(value)"]] {
            let result = parseCommandLine(args)
            #expect(isUsageError(result), "\(args): \(result)")
        }
    }

    /// Durations are unsigned decimals: "0.-5" must not become -50 ms, nor "-0.5" become +500 ms.
    @Test("signed durations are refused", arguments: [
        ("--ping-interval", "0.-5"), ("--handshake-timeout", "0.-5"), ("--send-timeout", "1.-5"), ("--idle-timeout", "100.+5"),
        ("--ping-interval", "-0.5"),
    ] as [(String, String)])
    func signedFractions(flag: String, value: String) {
        let result = parseCommandLine([flag, value])
        #expect(isUsageError(result), "\(flag) \(value) gave \(result)")
    }

    /// A fraction of more than three digits must be digits too ("1.234x" is not 1.234 s).
    @Test("trailing garbage after three fraction digits is refused", arguments: ["1.234x", "1.5000000s"])
    func fractionGarbage(value: String) {
        let result = parseCommandLine(["--handshake-timeout", value])
        #expect(isUsageError(result), "--handshake-timeout \(value) gave \(result)")
    }

    /// Seconds too large to count in milliseconds must be a usage error, not an overflow trap.
    @Test("huge durations do not crash")
    func hugeDurations() async {
        await #expect(processExitsWith: .success) {
            for flag in ["--idle-timeout", "--handshake-timeout", "--send-timeout"] {
                let result = CommandLineOptions.parse([flag, "9223372036854775807"], environment: { _ in nil })
                if case .usageError = result {} else { fatalError("\(flag): expected a usage error, got \(result)") }
            }
        }
    }

    /// The longest timeout is 2,000,000 s (23 days), whose milliseconds fit 32 bits: on 32-bit ARM
    /// `Int` is 32 bits, and 999,999,999 s (accepted before) became an overflow trap there.
    @Test("durations are bounded to 32-bit milliseconds", arguments: ["--idle-timeout", "--handshake-timeout", "--send-timeout", "--ping-interval"])
    func durationBound(flag: String) {
        #expect(isUsageError(parseCommandLine([flag, "2000001"])))
        #expect(isUsageError(parseCommandLine([flag, "999999999"])))
        #expect(isUsageError(parseCommandLine([flag, "99999999.5"])))
        let args = flag == "--ping-interval" ? [flag, "2000000", "--idle-timeout", "2000000.001"] : [flag, "2000000.999"]
        let result = parseCommandLine(args)
        #expect(runConfiguration(result) != nil, "\(args): \(result)")
        if flag == "--send-timeout", let config = runConfiguration(result) {
            #expect(config.limits.sendTimeoutMs == 2_000_000_999)
            #expect(config.limits.sendTimeoutMs <= Int(Int32.max))
        }
    }

    @Test("the idle timeout must exceed the ping interval", arguments: [
        (["--ping-interval", "60", "--idle-timeout", "60"], false),
        (["--ping-interval", "61"], false),
        (["--idle-timeout", "30"], false),
        (["--idle-timeout", "30.001"], true),
        (["--ping-interval", "0", "--idle-timeout", "1"], true),
    ] as [([String], Bool)])
    func idleVersusPing(args: [String], ok: Bool) {
        let result = parseCommandLine(args)
        if ok { #expect(runConfiguration(result) != nil) } else { #expect(isUsageError(result), "\(args): \(result)") }
    }

    @Test("--help, -h and --version", arguments: [
        (["--help"], "help"), (["-h"], "help"), (["--version"], "version"),
        (["--port", "1", "--help"], "help"), (["--help", "--nope"], "help"), (["--version", "--port", "x"], "version"),
    ] as [([String], String)])
    func helpAndVersion(args: [String], expected: String) {
        switch parseCommandLine(args) {
        case .help: #expect(expected == "help")
        case .version: #expect(expected == "version")
        case let other: Issue.record("\(args) gave \(other)")
        }
    }

    /// The "[default]" each flag's help shows is typed by hand; it once said 12 for a default of
    /// 14. Applying that text to a default configuration must leave every field as it was.
    @Test("every [default] in the usage text is the actual default")
    func usageDefaultsAreTheDefaults() {
        func described(_ c: Configuration) -> String { var text = ""; dump(c, to: &text); return text }
        let pristine = described(Configuration())
        var checked = 0
        // These show a behaviour ("[same host only]", "[every address, ...]", "[off]", "[none]"), not a value.
        let behaviours = ["--allow-origin", "--host", "--unix-socket", "--trust-proxy", "--access-token-file", "--exec-env"]
        for option in CommandLineOptions.options where !option.value.isEmpty && !behaviours.contains(option.flag) {
            guard option.help.hasSuffix("]"), let open = option.help.lastIndex(of: "[") else { continue }
            let value = String(option.help[option.help.index(after: open)..<option.help.index(before: option.help.endIndex)])
            var c = Configuration()
            #expect(option.apply(&c, value), "\(option.flag) rejects its own default \(value)")
            #expect(described(c) == pristine, "\(option.flag) shows [\(value)], which is not the default")
            checked += 1
        }
        #expect(checked >= 20, "only \(checked) flags show a default")
    }

    @Test("the usage text lists every flag and its environment variable")
    func usage() {
        let text = CommandLineOptions.usage
        for flag in ["--host", "--port", "--greeting", "--max-message-bytes", "--max-header-bytes", "--max-connections",
                     "--handshake-timeout", "--ping-interval", "--idle-timeout", "--send-timeout", "--log-level", "--help", "--version"] {
            #expect(text.contains(flag), "\(flag)")
        }
        for name in ["LANTERN_HOST", "LANTERN_PORT", "LANTERN_GREETING", "LANTERN_MAX_MESSAGE_BYTES", "LANTERN_MAX_HEADER_BYTES",
                     "LANTERN_MAX_CONNECTIONS", "LANTERN_HANDSHAKE_TIMEOUT", "LANTERN_PING_INTERVAL", "LANTERN_IDLE_TIMEOUT",
                     "LANTERN_SEND_TIMEOUT", "LANTERN_LOG_LEVEL"] {
            #expect(text.contains(name), "\(name)")
        }
        #expect(!CommandLineOptions.version.isEmpty)
    }

    @Test("--trust-proxy adds up on the command line and replaces the environment's list")
    func trustProxyRepeats() throws {
        let env = ["LANTERN_TRUST_PROXY": "unix,192.168.0.0/16"]
        let fromEnv = try #require(runConfiguration(parseCommandLine([], env)))
        #expect(fromEnv.trustedProxies.unixSocket && fromEnv.trustedProxies.ranges.count == 1)
        let flags = try #require(runConfiguration(parseCommandLine(["--trust-proxy", "10.0.0.1", "--trust-proxy=::1"], env)))
        #expect(!flags.trustedProxies.unixSocket && flags.trustedProxies.ranges.count == 2)
        #expect(runConfiguration(parseCommandLine([], ["LANTERN_TEST_NO_IPV6": "1"]))?.simulateNoIPv6 == true)
    }
}
