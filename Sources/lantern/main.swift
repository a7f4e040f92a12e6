#if canImport(Glibc)
import Glibc
#endif
import Lantern

// Flags and environment -> Configuration -> Server; nothing else lives here.
let arguments = Array(CommandLine.arguments.dropFirst())
switch CommandLineOptions.parse(arguments, environment: { name in getenv(name).map { String(cString: $0) } }) {
case .run(let configuration):
    // _exit: connection threads may still be running; skip atexit work that could race them.
    _exit(Server.run(configuration, handler: BuiltInHandler(mode: configuration.mode)))
case .help:
    print(CommandLineOptions.usage, terminator: "")
    exit(0)
case .version:
    print(BuildInfo.versionLine)
    exit(0)
case .settingsFile:
    print(CommandLineOptions.settingsFile, terminator: "")
    exit(0)
case .usageError(let message):
    let text = "lantern: \(message)\n\n" + CommandLineOptions.usage
    _ = text.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
