// Where musl's headers differ from glibc's in what Swift imports, glibc's spelling, so the sources
// build unchanged against musl. Embedded --musl build only (tools/release-embedded.sh --musl
// compiles it into the one module with every source and GlibcOverlay.swift); declarations here
// shadow the C module's within this module.
import Glibc

/// glibc's name for a signal handler (musl has it only as `sighandler_t` under _GNU_SOURCE).
typealias __sighandler_t = @convention(c) (Int32) -> Void

/// glibc declares the socket types as `enum __socket_type`; musl as plain macros.
struct __socket_type {
    var rawValue: UInt32
}
var SOCK_STREAM: __socket_type { __socket_type(rawValue: UInt32(Glibc.SOCK_STREAM)) }
var SOCK_CLOEXEC: __socket_type { __socket_type(rawValue: UInt32(Glibc.SOCK_CLOEXEC)) }

/// glibc's pthread_t is an integer, musl's an opaque pointer (imported as OpaquePointer), so
/// `var thread = pthread_t()` needs this spelling; the id is not used after creation.
typealias pthread_t = UInt

func pthread_create(
    _ thread: UnsafeMutablePointer<UInt>,
    _ attributes: UnsafePointer<pthread_attr_t>?,
    _ entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    var id: OpaquePointer? = nil
    let result = Glibc.pthread_create(&id, attributes, entry, argument)
    thread.pointee = UInt(bitPattern: id)
    return result
}
