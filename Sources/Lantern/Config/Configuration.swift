/// Everything the server needs to run, built once from flags and environment.
public struct Configuration: Sendable {
    public var host = "0.0.0.0"
    public var port: UInt16 = 8080
    /// Text sent to every new WebSocket connection; empty sends nothing.
    public var greeting: [UInt8] = Array("Welcome to simple echo server".utf8)
    public var limits = Limits()
    public var logLevel = LogLevel.info
    public var deflate = DeflatePolicy()
    /// `--mode`: what happens to received messages.
    public var mode = Mode.echo
    /// Origins allowed besides same-host ones and none (`--allow-origin`).
    public var origins = OriginPolicy()

    public enum Mode: Sendable { case echo, broadcast }

    public init() {}
}
