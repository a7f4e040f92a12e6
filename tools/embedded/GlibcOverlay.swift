// What Swift's Glibc overlay adds to the C library and Embedded Swift lacks, for the Embedded
// build only (tools/release-embedded.sh compiles it into the one module with every source).
import Glibc

/// The calling thread's errno (a C macro over thread-local storage).
var errno: Int32 {
    get { lantern_errno() }
    set { lantern_set_errno(newValue) }
}

/// signal.h's SIG_DFL and SIG_IGN are casts of 0 and 1 to a function pointer.
var SIG_DFL: __sighandler_t? { nil }
var SIG_IGN: __sighandler_t? { unsafeBitCast(1 as Int, to: __sighandler_t.self) }

/// open(2) without a mode (the C function is variadic).
func open(_ path: UnsafePointer<CChar>, _ flags: Int32) -> Int32 { lantern_open(path, flags) }

/// The process arguments, as the standard library's CommandLine gives them.
enum CommandLine {
    static var arguments: [String] {
        let argv = lantern_argv()!
        return (0..<Int(lantern_argc())).map { String(cString: argv[$0]!) }
    }
}

// Byte-wise String comparison. The standard library's `==`, `~=` (switch) and `hasPrefix`
// compare by Unicode canonical equivalence, which links 50 KB of Unicode tables and
// normalization code into an Embedded binary. Everything this server compares is an ASCII
// flag, keyword or protocol token, where the two agree; within this module these shadow the
// standard library's (Embedded build only).
extension String {
    @inline(__always)
    static func == (lhs: String, rhs: String) -> Bool { lhs.utf8.elementsEqual(rhs.utf8) }
    @inline(__always)
    static func != (lhs: String, rhs: String) -> Bool { !lhs.utf8.elementsEqual(rhs.utf8) }
    @inline(__always)
    static func ~= (pattern: String, value: String) -> Bool { pattern.utf8.elementsEqual(value.utf8) }
    @inline(__always)
    func hasPrefix(_ prefix: String) -> Bool { utf8.starts(with: prefix.utf8) }
}
