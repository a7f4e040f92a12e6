#if canImport(Glibc)
import Glibc
#endif

/// Shared by every fuzz target. `precondition` drops its message under -O; `check` keeps it
/// (fatalError always prints), so a crash report says which invariant broke.
@inline(__always)
func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fatalError("invariant: \(message())", file: file, line: line) }
}

func checkFailure(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("invariant: \(message)", file: file, line: line)
}

