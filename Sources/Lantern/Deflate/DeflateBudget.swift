#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Process-wide account of live zlib memory, fed by zlib's own allocation callbacks, so the
/// figure is what zlib really holds. Above the limit, new compressors are not created and
/// messages go out uncompressed (RFC 7692 §6.1 lets any message be sent uncompressed).
final class DeflateBudget: @unchecked Sendable {
    let limitBytes: Int
    private let lock = Lock()
    private var liveBytes = 0

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    var used: Int { lock.locked { liveBytes } }

    /// Whether `bytes` more would still fit.
    func canAfford(_ bytes: Int) -> Bool { lock.locked { liveBytes + bytes <= limitBytes } }

    fileprivate func add(_ bytes: Int) { lock.locked { liveBytes += bytes } }

    /// Installs the counting allocator on a stream before its init call.
    func attach(to stream: inout z_stream) {
        stream.zalloc = budgetAllocate
        stream.zfree = budgetFree
        stream.opaque = Unmanaged.passUnretained(self).toOpaque()
    }
}

/// Allocations at least this big (zlib's windows and hash tables) get their own pages.
private let pageBackedThreshold = 4096

/// zlib allocation callback: a 16-byte prefix remembers the size for the matching free.
/// Big blocks are mapped, not taken from malloc: the kernel hands out pages only as zlib touches
/// them (a small message uses a fraction of a 32 KB window), and freeing returns them at once,
/// where malloc would keep a per-connection hole in the heap resident.
private func budgetAllocate(_ opaque: UnsafeMutableRawPointer?, _ items: uInt, _ size: uInt) -> UnsafeMutableRawPointer? {
    let bytes = Int(items) * Int(size)
    let raw: UnsafeMutableRawPointer
    if bytes >= pageBackedThreshold {
        guard let mapped = mmap(nil, bytes + 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              mapped != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }  // MAP_FAILED
        raw = mapped
    } else {
        guard let allocated = malloc(bytes + 16) else { return nil }
        raw = allocated
    }
    raw.storeBytes(of: bytes, as: Int.self)
    Unmanaged<DeflateBudget>.fromOpaque(opaque!).takeUnretainedValue().add(bytes)
    return raw + 16
}

private func budgetFree(_ opaque: UnsafeMutableRawPointer?, _ address: UnsafeMutableRawPointer?) {
    guard let address else { return }
    let raw = address - 16
    let bytes = raw.load(as: Int.self)
    Unmanaged<DeflateBudget>.fromOpaque(opaque!).takeUnretainedValue().add(-bytes)
    if bytes >= pageBackedThreshold {
        munmap(raw, bytes + 16)
    } else {
        free(raw)
    }
}
