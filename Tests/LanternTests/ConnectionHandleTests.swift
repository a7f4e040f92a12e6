#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Lantern

@Suite("ConnectionHandle")
struct ConnectionHandleTests {
    /// Shutdown's close frame never waits on a peer that stopped reading while its connection
    /// thread sits in `recv` (write lock free, socket buffer full). It used to block for the
    /// whole send timeout, once per such peer, on the thread that shuts the server down.
    @Test func trySendCloseDoesNotWaitOnAFullSocket() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let socket = Socket(fd: fds[0])
        // A blocking write on this socket would wait 5 s before failing.
        socket.setSendTimeout(milliseconds: 5_000)
        let handle = ConnectionHandle(id: 1, socket: socket, deflate: nil, metrics: Metrics(), outbox: nil, sendTimeoutMs: 5_000)
        try handle.writeOpening(Array("HTTP/1.1 101 Switching Protocols\r\n\r\n".utf8))
        // Fill the buffer: the peer (fds[1]) never reads.
        let chunk = [UInt8](repeating: 0x61, count: 4096)
        var filled = 0
        while send(fds[0], chunk, chunk.count, Int32(MSG_DONTWAIT)) > 0 { filled += 1 }
        #expect(filled > 0)
        let start = MonotonicClock.nowMs()
        #expect(handle.trySendClose(.shuttingDown) == false)
        #expect(MonotonicClock.nowMs() - start < 2_500, "trySendClose blocked on a full socket")
        // And nothing else may be written after it: the stream's end is settled, as 1006, and
        // the socket is shut down so the connection's thread wakes from recv at once.
        #expect(handle.trySendClose(CloseReason(.goingAway, "again")) == false)
        #expect(handle.failureCode == .abnormalClosure)
        var byte: UInt8 = 0
        #expect(recv(fds[0], &byte, 1, Int32(MSG_DONTWAIT)) == 0, "our read side is not shut down")
    }

    @Test func trySendCloseSendsWhenThereIsRoom() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let handle = ConnectionHandle(id: 1, socket: Socket(fd: fds[0]), deflate: nil, metrics: Metrics(), outbox: nil, sendTimeoutMs: 5_000)
        #expect(handle.trySendClose(CloseReason(.goingAway, "x")) == nil, "before the 101 there is nothing to close")
        try handle.writeOpening([0x41])
        #expect(handle.trySendClose(CloseReason(.goingAway, "bye")) == true)
        var received = [UInt8](repeating: 0, count: 64)
        let n = recv(fds[1], &received, received.count, 0)
        // "A", then an unmasked close frame: FIN + opcode 8, length 5, code 1001, "bye".
        #expect(Array(received[..<max(0, n)]) == [0x41, 0x88, 0x05, 0x03, 0xE9] + Array("bye".utf8))
    }
}
