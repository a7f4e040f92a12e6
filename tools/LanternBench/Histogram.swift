/// Latency histogram in nanoseconds: exact below 128 ns, then 128 linear buckets per power of
/// two (under 0.8 % error), so percentiles need no stored samples.
struct Histogram {
    private static let subBuckets = 128
    private var counts = [UInt64](repeating: 0, count: 64 * Histogram.subBuckets)
    private(set) var count: UInt64 = 0
    private(set) var max: UInt64 = 0

    @inline(__always)
    private static func index(_ v: UInt64) -> Int {
        if v < UInt64(subBuckets) { return Int(v) }
        let shift = (63 - v.leadingZeroBitCount) - 7
        return (shift + 1) * subBuckets + Int((v >> UInt64(shift)) & 127)
    }

    private static func lowerBound(_ bucket: Int) -> UInt64 {
        if bucket < subBuckets { return UInt64(bucket) }
        let shift = bucket / subBuckets - 1
        return UInt64(subBuckets + bucket % subBuckets) << UInt64(shift)
    }

    mutating func record(_ nanos: UInt64) {
        counts[Histogram.index(nanos)] &+= 1
        count &+= 1
        if nanos > max { max = nanos }
    }

    mutating func merge(_ other: Histogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count &+= other.count
        max = Swift.max(max, other.max)
    }

    /// The `fraction` percentile in microseconds (bucket midpoint, never above the maximum).
    func percentile(_ fraction: Double) -> Double {
        guard count > 0 else { return 0 }
        let wanted = Swift.max(1, UInt64((fraction * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (bucket, n) in counts.enumerated() where n > 0 {
            seen += n
            if seen >= wanted {
                let lo = Double(Histogram.lowerBound(bucket)), hi = Double(Histogram.lowerBound(bucket + 1))
                return Swift.min(lo + (hi - lo) / 2, Double(max)) / 1000
            }
        }
        return Double(max) / 1000
    }
}
