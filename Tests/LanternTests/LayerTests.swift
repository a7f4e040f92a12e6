import Foundation
import Testing

/// The folders of Sources/Lantern are layers, and this test is what makes them so: a file may
/// name only the types of its own folder and of the folders below it. Protocol/ is the pure
/// core (no imports at all), Base/ the few system helpers every layer may use.
@Suite("Layers")
struct LayerTests {
    /// What each folder may name besides its own types.
    static let allowed: [String: Set<String>] = [
        "Base": [],
        "Protocol": [],
        "Deflate": ["Base", "Protocol"],
        "Config": ["Base", "Protocol", "Deflate"],
        "Server": ["Base", "Protocol", "Deflate", "Config"],
    ]

    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/Lantern").standardizedFileURL

    /// Each folder's Swift files, with comments and string literals blanked.
    static func files() throws -> [String: [(name: String, code: String)]] {
        var out: [String: [(String, String)]] = [:]
        for folder in try FileManager.default.contentsOfDirectory(atPath: sources.path) {
            let dir = sources.appendingPathComponent(folder)
            // Subfolders belong to their layer: a file moved one level down is still checked.
            let names = FileManager.default.enumerator(atPath: dir.path)?.compactMap { $0 as? String } ?? []
            for name in names.sorted() where name.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                out[folder, default: []].append((name, strip(text)))
            }
        }
        return out
    }

    static func strip(_ text: String) -> String {
        text.replacingOccurrences(of: #"(?s)/\*.*?\*/"#, with: " ", options: .regularExpression)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .map { line in line.components(separatedBy: "//")[0] }
            .joined(separator: "\n")
            .replacingOccurrences(of: #""(?:\\.|[^"\\\n])*""#, with: "\"\"", options: .regularExpression)
    }

    /// Top-level type names a file declares (nested ones are reached through them).
    static func declared(in code: String) -> Set<String> {
        let pattern = #"(?m)^(?:(?:@\w+(?:\([^)]*\))?|public|package|internal|fileprivate|private|open|final|indirect|nonisolated)\s+)*(?:class|struct|enum|protocol|typealias|actor)\s+([A-Za-z_][A-Za-z0-9_]*)"#
        let regex = try! NSRegularExpression(pattern: pattern)
        let range = NSRange(code.startIndex..., in: code)
        return Set(regex.matches(in: code, range: range).compactMap { Range($0.range(at: 1), in: code).map { String(code[$0]) } })
    }

    static func identifiers(in code: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: #"\b[A-Z][A-Za-z0-9_]*\b"#)
        let range = NSRange(code.startIndex..., in: code)
        return Set(regex.matches(in: code, range: range).compactMap { Range($0.range, in: code).map { String(code[$0]) } })
    }

    /// Every use of a type from a folder that is not allowed, as "Folder/File.swift names Type (Other/)".
    static func violations(_ files: [String: [(name: String, code: String)]]) -> [String] {
        var owner: [String: String] = [:]
        for (folder, list) in files { for file in list { for type in declared(in: file.code) { owner[type] = folder } } }
        var found: [String] = []
        for (folder, list) in files {
            let may = allowed[folder] ?? []
            for file in list {
                for name in identifiers(in: file.code).sorted() {
                    guard let other = owner[name], other != folder, !may.contains(other) else { continue }
                    found.append("\(folder)/\(file.name) names \(name) (\(other)/)")
                }
                if folder == "Protocol" && file.code.range(of: #"(?m)^\s*(?:@\w+\s+)*(import|#if canImport)\b"#, options: .regularExpression) != nil {
                    found.append("Protocol/\(file.name) imports a module")
                }
            }
        }
        return found.sorted()
    }

    @Test("every folder is a known layer, and no file names a type of a layer above it")
    func layersHold() throws {
        let files = try Self.files()
        #expect(Set(files.keys) == Set(Self.allowed.keys), "folders: \(files.keys.sorted())")
        #expect(Self.violations(files) == [])
    }

    @Test("the check sees a violation: Protocol naming a Server type, Deflate naming Config, Base naming Server, an import")
    func checkCanFail() throws {
        var files = try Self.files()
        files["Protocol", default: []].append(("Bad.swift", "import Glibc\nstruct Bad { let log: Log }"))
        files["Deflate", default: []].append(("Bad2.swift", "struct Bad2 { var c: Configuration }"))
        files["Base", default: []].append(("Sub/Bad3.swift", "enum Bad3 { static let m = Metrics.self }"))
        files["Protocol", default: []].append(("Bad4.swift", "@_exported import Glibc"))
        // Comments and strings are not code: none of these is a use.
        files["Protocol", default: []].append(("Fine.swift", Self.strip("/* Lock\n Log */ let s = \"Lock\" // Log\nstruct Fine {}")))
        #expect(Self.violations(files) == [
            "Base/Sub/Bad3.swift names Metrics (Server/)", "Deflate/Bad2.swift names Configuration (Config/)",
            "Protocol/Bad.swift imports a module", "Protocol/Bad.swift names Log (Server/)", "Protocol/Bad4.swift imports a module",
        ])
    }
}
