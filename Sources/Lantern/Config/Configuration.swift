/// Everything the server needs to run, built once from flags and environment.
public struct Configuration: Sendable {
    /// `--host`; nil: every address, IPv4 and IPv6 on one socket (IPv4 alone without IPv6).
    public var host: String? = nil
    public var port: UInt16 = 8080
    /// `--unix-socket`: listen on this Unix socket instead of TCP.
    public var unixSocket: String? = nil
    /// `--unix-socket-mode`: the socket file's permissions.
    public var unixSocketMode: UInt32 = 0o660
    /// `--trust-proxy`: peers whose Forwarded / X-Forwarded-For name the real client.
    public var trustedProxies = TrustedProxies()
    /// LANTERN_TEST_NO_IPV6=1: behave as on a kernel without IPv6 (tests of the fallback).
    public var simulateNoIPv6 = false
    /// Text sent to every new WebSocket connection; empty sends nothing.
    public var greeting: [UInt8] = Array("Welcome to simple echo server".utf8)
    public var limits = Limits()
    public var logLevel = LogLevel.info
    public var deflate = DeflatePolicy()
    /// `--mode`: what happens to received messages.
    public var mode = Mode.echo
    /// `--access-token-file`: read once at startup into `accessToken`.
    public var accessTokenFile: String? = nil
    /// The secret every upgrade and /metrics request must carry; nil: open to all. Never logged.
    public var accessToken: AccessToken? = nil
    /// Origins allowed besides same-host ones and none (`--allow-origin`).
    public var origins = OriginPolicy()

    /// `lantern -- PROGRAM ARGS...`: the program each WebSocket connection runs (argv, no shell).
    public var program: [String]? = nil
    /// `--exec-env`: names of Lantern's own environment variables a program also sees.
    public var programEnvironment: [String] = []

    /// `exec` is implied by a program after `--`.
    public enum Mode: Sendable { case echo, broadcast, exec }

    public init() {}
}
