import Foundation
import PackagePlugin

/// Feeds every file of the package's `Web/` folder to `EmbedTool`, which writes
/// `EmbeddedAssets.swift` (the `CompiledAssets` table) into the target it is applied to.
///
/// SwiftPM re-invokes this plugin only when it re-plans the build (a change to Package.swift
/// or to a target's folder), and `Web/` belongs to no target. So the command's inputs are every
/// file (an edit or `touch` re-runs it) and every folder (adding or removing a file changes the
/// folder's mtime and re-runs it; EmbedTool then scans `Web/` afresh). A file that is new to
/// the plan is not an input itself, so its later edits go unnoticed until the build is
/// re-planned (`touch Package.swift`); EmbedTool warns about such files.
@main
struct EmbedAssets: BuildToolPlugin {
    /// Returns the single command that regenerates the asset table.
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let webDirectory = context.package.directoryURL.appending(path: "Web", directoryHint: .isDirectory)
        let (files, directories) = try Self.scan(webDirectory)
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedAssets.swift")
        return [
            .buildCommand(
                displayName: "Embedding Web assets into \(target.name)",
                executable: try context.tool(named: "EmbedTool").url,
                arguments: [output, webDirectory].map { $0.path(percentEncoded: false) }
                    + files.map { $0.path(percentEncoded: false) },
                inputFiles: directories + files,
                outputFiles: [output]
            ),
        ]
    }

    /// The regular files under `directory`, recursively, and the folders holding them (including
    /// `directory` itself), each sorted by path; dotfiles and dot-folders are skipped.
    ///
    /// A missing `Web/` is not an error: the generated table is then empty.
    static func scan(_ directory: URL) throws -> (files: [URL], directories: [URL]) {
        let keys: [URLResourceKey] = [.isRegularFileKey, .isDirectoryKey]
        guard FileManager.default.fileExists(atPath: directory.path(percentEncoded: false)),
              let enumerator = FileManager.default.enumerator(
            at: directory, includingPropertiesForKeys: keys, options: [.skipsHiddenFiles]
        ) else { return ([], []) }
        var files: [URL] = []
        var directories: [URL] = [directory]
        for case let url as URL in enumerator {
            let values = try url.resourceValues(forKeys: Set(keys))
            if values.isRegularFile == true {
                files.append(url)
            } else if values.isDirectory == true {
                directories.append(url)
            }
        }
        let byPath = { (a: URL, b: URL) in a.path(percentEncoded: false) < b.path(percentEncoded: false) }
        return (files.sorted(by: byPath), directories.sorted(by: byPath))
    }
}
