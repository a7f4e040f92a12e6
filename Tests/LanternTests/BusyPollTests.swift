#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Lantern

/// BusyPoll over a local socket pair: whether it reads depends only on what is waiting and on its
/// miss count, so bytes already queued show whether a wait polled or was skipped.
@Suite("BusyPoll")
struct BusyPollTests {
    /// A connected stream pair: the server end as a `Socket` with its buffer, and the client end.
    private final class Pair {
        let socket: Socket
        private(set) var client: Int32
        var buffer = ReadBuffer(capacity: 64, growLimit: 64)

        init() throws {
            var fds: [Int32] = [0, 0]
            try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
            socket = Socket(fd: fds[0])
            client = fds[1]
        }

        deinit {
            socket.close()
            closeClient()
            buffer.deallocate()
        }

        func send(_ bytes: [UInt8]) { #expect(write(client, bytes, bytes.count) == bytes.count) }

        func closeClient() {
            if client >= 0 { close(client) }
            client = -1
        }

        func read(_ poll: inout BusyPoll, afterAnswering: Bool = true) throws -> Int? {
            try poll.read(into: &buffer, from: socket, afterAnswering: afterAnswering)
        }
    }

    @Test("reads what is already waiting; nil when nothing comes in time")
    func readsOrGivesUp() throws {
        let pair = try Pair()
        var poll = BusyPoll(budgetMicroseconds: 200)
        #expect(try pair.read(&poll) == nil)
        pair.send([1, 2, 3])
        #expect(try pair.read(&poll) == 3)
        #expect(Array(pair.buffer.unread) == [1, 2, 3])
    }

    @Test("after three misses only every 16th miss polls; a hit resets the count")
    func slowPeersAreSkipped() throws {
        let pair = try Pair()
        var poll = BusyPoll(budgetMicroseconds: 50)
        for _ in 0..<3 { #expect(try pair.read(&poll) == nil) }
        // Bytes are waiting, but waits 4...16 do not look (the caller's blocking read would).
        pair.send([7])
        for wait in 4...16 { #expect(try pair.read(&poll) == nil, "wait \(wait)") }
        // The 17th (16 misses) polls again and finds them; the peer counts as fast again.
        #expect(try pair.read(&poll) == 1)
        // Two misses after the hit leave it under three: the next wait still polls.
        for _ in 0..<2 { #expect(try pair.read(&poll) == nil) }
        pair.send([8])
        #expect(try pair.read(&poll, afterAnswering: false) == 1)
        #expect(Array(pair.buffer.unread) == [7, 8])
    }

    @Test("a peer that resets the connection is an error, not a timeout to sleep through")
    func resetIsThrown() throws {
        // A TCP pair on loopback: only TCP can reset. SO_LINGER 0 makes close() send RST.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { a in
            try a.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                try #require(bind(listener, p, length) == 0 && listen(listener, 1) == 0)
                try #require(getsockname(listener, p, &length) == 0)
            }
        }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try withUnsafePointer(to: &address) { a in
            try a.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in try #require(connect(client, p, length) == 0) }
        }
        let server = Socket(fd: accept(listener, nil, nil))
        defer { server.close() }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        #expect(setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size)) == 0)
        close(client)
        var buffer = ReadBuffer(capacity: 64, growLimit: 64)
        defer { buffer.deallocate() }
        var poll = BusyPoll(budgetMicroseconds: 10_000)
        #expect(throws: Errno.self) { _ = try poll.read(into: &buffer, from: server, afterAnswering: true) }
    }

    @Test("a zero budget never reads; a closed peer reads as 0")
    func offAndClosed() throws {
        let pair = try Pair()
        pair.send([9])
        var off = BusyPoll(budgetMicroseconds: 0)
        #expect(try pair.read(&off) == nil)
        var on = BusyPoll(budgetMicroseconds: 50)
        #expect(try pair.read(&on, afterAnswering: false) == 1)
        pair.closeClient()
        #expect(try pair.read(&on, afterAnswering: false) == 0)
    }
}
