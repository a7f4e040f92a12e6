/// What this binary is, for `lantern --version`: the CPU it was compiled for and the build.
/// The Embedded builds name their CPU and C library with `-D` (tools/release-embedded.sh), since
/// `#if arch(arm)` cannot tell ARMv6 from ARMv7; the SwiftPM build falls back to `arch()`.
public enum BuildInfo {
    public static let cpu: String = {
        #if LANTERN_CPU_armv6
        return "armv6"
        #elseif LANTERN_CPU_armv7
        return "armv7"
        #elseif LANTERN_CPU_aarch64 || arch(arm64)
        return "aarch64"
        #elseif LANTERN_CPU_x86_64 || arch(x86_64)
        return "x86_64"
        #elseif arch(arm)
        return "arm"
        #else
        return "unknown"
        #endif
    }()

    public static let build: String = {
        #if LANTERN_MUSL
        return "Embedded Swift, musl"
        #elseif hasFeature(Embedded)
        return "Embedded Swift, glibc"
        #else
        return "Swift, glibc"
        #endif
    }()

    /// `lantern 0.1.0 (aarch64, Embedded Swift, musl)`.
    public static var versionLine: String { "lantern \(CommandLineOptions.version) (\(cpu), \(build))" }
}
