// swift-tools-version:6.0
import PackageDescription

// The shipped binary depends on nothing but Glibc and the system zlib.
let package = Package(
    name: "Lantern",
    products: [
        .executable(name: "lantern", targets: ["lantern"]),
        .executable(name: "lantern-bench", targets: ["lantern-bench"]),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CSystem", path: "Sources/CSystem"),
        .target(
            name: "Lantern",
            dependencies: ["CZlib", "CSystem"],
            path: "Sources/Lantern",
            plugins: ["EmbedAssets"]
        ),
        .executableTarget(name: "lantern", dependencies: ["Lantern"], path: "Sources/lantern"),
        // Benchmark load generator (tools/bench.sh); not part of the shipped binary.
        .executableTarget(name: "lantern-bench", dependencies: ["Lantern", "CZlib"], path: "tools/LanternBench"),
        // Build-time only: turns every file of Web/ into Swift source.
        .executableTarget(name: "EmbedTool", dependencies: ["CZlib"], path: "tools/EmbedTool"),
        .plugin(name: "EmbedAssets", capability: .buildTool(), dependencies: ["EmbedTool"], path: "tools/EmbedAssets"),
        .testTarget(name: "LanternTests", dependencies: ["Lantern"]),
        .testTarget(name: "IntegrationTests", dependencies: ["lantern"]),
    ]
)
