import Foundation
import Testing
@testable import Lantern

/// The version lives in `VERSION`; the Swift constant must say the same.
@Suite struct VersionTests {
    /// The repository's top folder, from this file's path (Tests/LanternTests/VersionTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func constantMatchesVersionFile() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("VERSION"), encoding: .utf8)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == CommandLineOptions.version)
    }

    /// CHANGELOG.md's newest section is this version: tools/package.sh builds the Debian changelog from it.
    @Test func changelogNamesVersion() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("CHANGELOG.md"), encoding: .utf8)
        let first = text.split(separator: "\n").first { $0.hasPrefix("## ") }
        #expect(first?.hasPrefix("## \(CommandLineOptions.version) (") == true)
    }
}
