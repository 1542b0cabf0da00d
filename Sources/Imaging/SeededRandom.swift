/// SplitMix64: a tiny, fast, well-distributed PRNG with a fixed algorithm, so the same seed
/// gives the same sequence on every platform and in every process (unlike `Hasher`).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0 ..< 1` from the top 53 bits (exactly reproducible).
    mutating func unit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in `range` (half-open in practice; exact bounds are not important here).
    mutating func double(in range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * unit()
    }

    /// Uniform integer in `0 ..< n` (n > 0), via multiply-high to avoid modulo bias issues.
    mutating func int(below n: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
}

/// 64-bit FNV-1a, stable across processes and platforms.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    mutating func add(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01B3
        }
    }

    mutating func add(_ v: Int64) {
        withUnsafeBytes(of: v.littleEndian) { add($0) }
    }

    /// Adds the string's UTF-8 followed by a 0xFF separator (never valid UTF-8), so
    /// ("ab", "c") and ("a", "bc") hash differently.
    mutating func add(_ s: String) {
        add(s.utf8)
        add(CollectionOfOne(UInt8(0xFF)))
    }
}
