import Testing
@testable import Lantern

/// `lantern --settings-file` (the packages' /etc/default/lantern) and `--help` come from one table.
@Suite struct SettingsFileTests {
    /// The `LANTERN_*` names a text mentions, in order.
    static func names(in text: String, prefix: String) -> [String] {
        text.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix(prefix + "LANTERN_") else { return nil }
            return String(trimmed.dropFirst(prefix.count).prefix { $0 != "=" })
        }
    }

    @Test func sameSettingsAsHelpInTheSameOrder() {
        let help = Self.names(in: CommandLineOptions.usage, prefix: "")
        let settings = Self.names(in: CommandLineOptions.settingsFile, prefix: "#")
        #expect(!help.isEmpty)
        #expect(settings == help)
        // Each option's help text stands in both, with the flag.
        for option in CommandLineOptions.options {
            #expect(CommandLineOptions.usage.contains(option.help))
            #expect(CommandLineOptions.settingsFile.contains("# \(option.flag)"))
            #expect(CommandLineOptions.settingsFile.contains(option.help))
        }
    }

    /// Uncommenting any line as written must be accepted and change nothing.
    @Test func everyWrittenDefaultIsTheDefault() {
        func described(_ c: Configuration) -> String { var text = ""; dump(c, to: &text); return text }
        let pristine = described(Configuration())
        var checked = 0
        for line in CommandLineOptions.settingsFile.split(separator: "\n") where line.hasPrefix("#LANTERN_") {
            let parts = line.dropFirst().split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            var value = String(parts[1])
            if value.isEmpty { continue }  // a described default ("[off]"): nothing to write
            if value.hasPrefix("\"") { value = String(value.dropFirst().dropLast()) }  // systemd strips the quotes
            let env = [String(parts[0]): value]
            guard case .run(let c) = CommandLineOptions.parse([], environment: { env[$0] }) else {
                Issue.record("\(line) is rejected"); continue
            }
            #expect(described(c) == pristine, "\(line) is not the default")
            checked += 1
        }
        #expect(checked >= 20)
    }

    @Test func hiddenFlag() {
        guard case .settingsFile = CommandLineOptions.parse(["--settings-file"], environment: { _ in nil }) else {
            Issue.record("--settings-file not recognised"); return
        }
        #expect(!CommandLineOptions.usage.contains("--settings-file"))
    }
}
