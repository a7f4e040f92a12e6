import Foundation
import Glibc
import Testing

/// Command-line behaviour and exit statuses (spec item 9).
@Suite(.timeLimit(.minutes(1)))
struct CLITests {
    /// Runs the binary with `arguments`, waiting (bounded) for exit and for both pipes to drain.
    private func run(_ arguments: [String]) throws -> (status: Int32?, stdout: String, stderr: String) {
        let process = try ServerProcess(rawArguments: arguments)
        guard process.waitForExit(timeout: 5) else {
            process.kill()
            Issue.record("\(arguments) still running after 5 s; stderr: \(process.stderr.text)")
            return (nil, process.stdout.text, process.stderr.text)
        }
        process.stdout.waitForEOF(timeout: 2)
        process.stderr.waitForEOF(timeout: 2)
        return (process.exitStatus, process.stdout.text, process.stderr.text)
    }

    @Test func portInUseExits1WithError() throws {
        // Hold a listening socket on an ephemeral port (no SO_REUSEPORT, so the server's bind must fail).
        let (fd, port) = try Ops.loopbackListener()
        defer { close(fd) }
        let result = try run(["--host", "127.0.0.1", "--port", String(port)])
        #expect(result.status == 1, "exit status \(result.status.map(String.init) ?? "none"); stderr: \(result.stderr)")
        #expect(!result.stderr.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no error message on stderr")
        #expect(!result.stdout.contains("listening"), "stdout: \(result.stdout)")
    }

    @Test(arguments: [["--bogus"], ["--port", "0", "--no-such-flag"], ["-z"]])
    func unknownFlagExits2WithUsage(arguments: [String]) throws {
        let result = try run(arguments)
        #expect(result.status == 2, "exit status \(result.status.map(String.init) ?? "none")")
        #expect(result.stderr.lowercased().contains("usage"), "stderr: \(result.stderr)")
    }

    @Test func helpExits0WithUsage() throws {
        let result = try run(["--help"])
        #expect(result.status == 0)
        let output = (result.stdout + result.stderr).lowercased()
        #expect(output.contains("usage"), "output: \(output)")
        #expect(output.contains("--port") && output.contains("--max-message-bytes"), "help should list the flags")
    }

    @Test func versionExits0() throws {
        let result = try run(["--version"])
        #expect(result.status == 0)
        #expect(!(result.stdout + result.stderr).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "no version printed")
    }

    @Test func listeningLineIsFirstOnStdout() throws {
        let server = try ServerProcess.start()  // throws unless line 1 is "lantern listening on 127.0.0.1:PORT"
        defer { server.stop() }
        #expect(PipeCollector.completeLines(server.stdout.text).first == "lantern listening on 127.0.0.1:\(server.port)")
    }
}
