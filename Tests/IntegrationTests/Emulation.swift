import Foundation

/// `LANTERN_EMULATED=1`: the binary under test runs under qemu-user (CI's ARM builds, see
/// tools/qemu-wrapper.sh). Every guest instruction is translated, so a bound on wall time that
/// holds natively may not hold there; and qemu runs threads of its own inside the server's process.
/// A test that widens a bound or skips a check for this says so on stdout with an `EMULATED:` line
/// (CI collects them); natively nothing changes.
enum Emulation {
    static let active = ProcessInfo.processInfo.environment["LANTERN_EMULATED"] == "1"

    /// `native` natively; under emulation `emulated`, announced as
    /// `EMULATED: widened <test>: <what> <native> -> <emulated> (<why>)`.
    static func bound(_ native: Double, _ emulated: Double, _ test: String = #function, _ what: String, why: String) -> Double {
        guard active else { return native }
        note("widened \(test.split(separator: "(").first ?? ""): \(what) \(format(native)) -> \(format(emulated)) (\(why))")
        return emulated
    }

    /// Prints an `EMULATED:` line (only under emulation).
    static func note(_ text: String) {
        guard active else { return }
        print("EMULATED: \(text)")
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e6 ? String(Int(value)) : String(format: "%.1f", value)
    }
}
