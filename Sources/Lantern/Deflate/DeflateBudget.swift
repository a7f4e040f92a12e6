#if canImport(Glibc)
import Glibc
#endif
import CZlib

/// Process-wide account of zlib memory, fed by zlib's own allocation callbacks, so the figure
/// is what zlib really holds, plus what is promised to inflaters not yet created. Above the
/// limit, new compressors are not created and messages go out uncompressed (RFC 7692 §6.1 lets
/// any message be sent uncompressed), and new connections are not offered deflate.
final class DeflateBudget: @unchecked Sendable {
    let limitBytes: Int
    private let lock = Lock()
    private var liveBytes = 0
    /// Promised to connections that agreed to deflate and may create their inflater any time.
    private var reservedBytes = 0

    init(limitBytes: Int) { self.limitBytes = limitBytes }

    /// What zlib holds now.
    var used: Int { lock.locked { liveBytes } }

    /// What zlib holds plus what is promised: the figure the limit applies to.
    var committed: Int { lock.locked { liveBytes + reservedBytes } }

    /// Whether `bytes` more would still fit.
    func canAfford(_ bytes: Int) -> Bool { lock.locked { fits(bytes) } }

    /// The limit applies to what zlib holds plus what is promised (call under `lock`).
    /// As a difference: the sum can pass Int.max on 32-bit ARM, where --deflate-budget may be
    /// 2^31 - 1 (live and reserved bytes are never negative, so the subtraction cannot overflow).
    private func fits(_ bytes: Int) -> Bool { bytes <= limitBytes - liveBytes - reservedBytes }

    /// Promises `bytes` to one stream yet to be created (a connection's inflater: its client may
    /// send a compressed message at any time, and that cannot be refused the way sending
    /// compressed can); nil when they do not fit.
    func reserve(_ bytes: Int) -> Account? {
        lock.locked { () -> Account? in
            guard fits(bytes) else { return nil }
            reservedBytes += bytes
            return Account(budget: self, promised: bytes)
        }
    }

    /// Whose allocations a zlib stream makes: they are drawn from its promise first, so a stream
    /// that was promised memory is not counted twice, and return to it when freed.
    final class Account: @unchecked Sendable {
        fileprivate let budget: DeflateBudget
        fileprivate let promised: Int
        /// The part of the promise not allocated now (guarded by the budget's lock).
        fileprivate var unspent: Int
        fileprivate var released = false

        fileprivate init(budget: DeflateBudget, promised: Int) {
            self.budget = budget
            self.promised = promised
            unspent = promised
        }

        /// An account with no promise: every allocation must fit the budget's room.
        convenience init(budget: DeflateBudget) { self.init(budget: budget, promised: 0) }

        /// Gives back what is left of the promise; call after the account's stream is freed.
        func release() {
            budget.lock.locked {
                budget.reservedBytes -= unspent
                unspent = 0
                released = true
            }
        }

        /// Installs the counting allocator on a stream before its init call; the account must
        /// outlive the stream (zlib calls back into it until the stream's end call).
        func attach(to stream: inout z_stream) {
            stream.zalloc = budgetAllocate
            stream.zfree = budgetFree
            stream.opaque = Unmanaged.passUnretained(self).toOpaque()
        }

        fileprivate func allocated(_ bytes: Int) {
            budget.lock.locked {
                let fromPromise = min(bytes, unspent)
                unspent -= fromPromise
                budget.reservedBytes -= fromPromise
                budget.liveBytes += bytes
            }
        }

        fileprivate func freed(_ bytes: Int) {
            budget.lock.locked {
                budget.liveBytes -= bytes
                guard !released else { return }
                let back = min(bytes, promised - unspent)
                unspent += back
                budget.reservedBytes += back
            }
        }
    }
}

/// Allocations at least this big (zlib's windows and hash tables) get their own pages.
private let pageBackedThreshold = 4096

/// zlib allocation callback: a 16-byte prefix remembers the size for the matching free.
/// Big blocks are mapped, not taken from malloc: the kernel hands out pages only as zlib touches
/// them (a small message uses a fraction of a 32 KB window), and freeing returns them at once,
/// where malloc would keep a per-connection hole in the heap resident.
private func budgetAllocate(_ opaque: UnsafeMutableRawPointer?, _ items: uInt, _ size: uInt) -> UnsafeMutableRawPointer? {
    // zlib's requests are small, but this callback must not trap whatever it asks for: a
    // product past Int.max (2^31 - 1 on 32-bit ARM), or no room for the prefix, is out of memory.
    guard let items = Int(exactly: items), let size = Int(exactly: size) else { return nil }
    let (bytes, overflow) = items.multipliedReportingOverflow(by: size)
    guard !overflow, bytes <= Int.max - 16 else { return nil }
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
    Unmanaged<DeflateBudget.Account>.fromOpaque(opaque!).takeUnretainedValue().allocated(bytes)
    return raw + 16
}

private func budgetFree(_ opaque: UnsafeMutableRawPointer?, _ address: UnsafeMutableRawPointer?) {
    guard let address else { return }
    let raw = address - 16
    let bytes = raw.load(as: Int.self)
    Unmanaged<DeflateBudget.Account>.fromOpaque(opaque!).takeUnretainedValue().freed(bytes)
    if bytes >= pageBackedThreshold {
        munmap(raw, bytes + 16)
    } else {
        free(raw)
    }
}
