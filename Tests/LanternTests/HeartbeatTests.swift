import Testing
@testable import Lantern

@Suite("Heartbeat")
struct HeartbeatTests {
    /// A peer that never answers: the connection sleeps exactly as long as `nextWaitMs` says and
    /// acts on each wake-up. Returns the ping times and the close time, from `start` (a reading
    /// of the monotonic clock: milliseconds since boot).
    func silentPeer(pingSeconds: Int, idleSeconds: Int, start: Int64 = 0) -> (pings: [Int], closedAt: Int?) {
        var limits = Limits()
        limits.pingIntervalMs = pingSeconds * 1000
        limits.idleTimeoutMs = idleSeconds * 1000
        var heartbeat = Heartbeat(limits: limits, now: start)
        var now = start
        var pings: [Int] = []
        for _ in 0..<1000 {
            now += Int64(heartbeat.nextWaitMs(now: now))
            switch heartbeat.timedOut(now: now) {
            case .ping: pings.append(Int(now - start))
            case .close: return (pings, Int(now - start))
            case .wait: continue
            }
        }
        return (pings, nil)
    }

    /// The idle limit is kept to the millisecond even when it is not a multiple of the ping
    /// interval (it used to be rounded up to the next ping: 30 / 100 s closed at 120 s).
    @Test(arguments: [(30, 60, [30_000], 60_000), (30, 100, [30_000, 60_000, 90_000], 100_000),
                      (2, 5, [2_000, 4_000], 5_000), (4, 10, [4_000, 8_000], 10_000), (0, 7, [], 7_000),
                      (10, 5, [], 5_000)] as [(Int, Int, [Int], Int)])
    func silentPeerIsPingedThenClosedOnTime(ping: Int, idle: Int, pings: [Int], closedAt: Int) {
        let result = silentPeer(pingSeconds: ping, idleSeconds: idle)
        #expect(result.pings == pings)
        #expect(result.closedAt == closedAt)
    }

    /// The same schedule on a box that has been up long enough for milliseconds since boot to
    /// pass 2^31 (24.8 days) and 2^32 (49.7 days), and for years: on 32-bit ARM `Int` is 32
    /// bits, and clock readings that were `Int` trapped there (and microseconds after 36 min).
    @Test(arguments: [Int64(Int32.max) - 10_000, Int64(UInt32.max) - 10_000, 100_000_000_000])
    func scheduleHoldsAfterLongUptime(start: Int64) {
        let result = silentPeer(pingSeconds: 30, idleSeconds: 100, start: start)
        #expect(result.pings == [30_000, 60_000, 90_000])
        #expect(result.closedAt == 100_000)
    }

    /// Clock readings of a box up for ten years, in ms and µs, stay exact and positive.
    @Test func clockArithmeticIsSixtyFourBit() {
        let tenYears: Int64 = 10 * 365 * 86_400
        #expect(MonotonicClock.reading(seconds: tenYears, nanoseconds: 999_999_999, unitsPerSecond: 1_000_000)
                == tenYears * 1_000_000 + 999_999)
        #expect(MonotonicClock.reading(seconds: tenYears, nanoseconds: 999_999_999, unitsPerSecond: 1000)
                == tenYears * 1000 + 999)
        // A wait far beyond Int's range (on 32-bit) is clamped, never trapped.
        #expect(MonotonicClock.msUntil(Int64.max / 2, now: 0) == Int(clamping: Int64.max / 2))
        #expect(MonotonicClock.msUntil(0, now: Int64.max / 2) == Int(clamping: -(Int64.max / 2)))
    }

    /// --ping-interval 0 --idle-timeout 0: neither, so reads block without a timeout and a
    /// wake-up never closes (it used to wait 1 ms and close at once).
    @Test func bothZeroMeansNever() {
        var limits = Limits()
        limits.pingIntervalMs = 0
        limits.idleTimeoutMs = 0
        var heartbeat = Heartbeat(limits: limits, now: 0)
        #expect(heartbeat.nextWaitMs(now: 0) == 0)
        #expect(heartbeat.nextWaitMs(now: 1_000_000) == 0)
        #expect(heartbeat.nextWaitMs(now: 100_000_000_000) == 0)
        #expect(heartbeat.timedOut(now: 1_000_000) == .wait)
    }

    /// Right after a read the wait is the smaller setting, the same value every time, so the
    /// connection does not set its receive timeout again on every message.
    @Test func waitAfterHearingIsConstant() {
        var limits = Limits()
        limits.pingIntervalMs = 30_000
        limits.idleTimeoutMs = 60_000
        var heartbeat = Heartbeat(limits: limits, now: 0)
        for now: Int64 in [5, 1_000, 29_999, 45_000, 100_000, 3_000_000_000] {
            heartbeat.heard(now: now)
            #expect(heartbeat.nextWaitMs(now: now) == 30_000)
        }
    }
}
