/// Single-channel 8-bit mask operations used for text outlines and shadows.
enum MaskEffects {
    /// Separable box blur with radius `r` using running sums: O(w·h) regardless of `r`.
    static func boxBlur(_ src: [UInt8], width w: Int, height h: Int, radius r: Int) -> [UInt8] {
        guard r > 0, w > 0, h > 0 else { return src }
        var tmp = [UInt8](repeating: 0, count: w * h)
        var out = [UInt8](repeating: 0, count: w * h)
        let div = 2 * r + 1
        src.withUnsafeBufferPointer { s in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    blurLine(s.baseAddress! + y * w, t.baseAddress! + y * w, count: w, step: 1, r: r, div: div)
                }
            }
        }
        // Vertical pass walks rows in order with one running sum per column (cache friendly).
        var sums = [Int](repeating: 0, count: w)
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                sums.withUnsafeMutableBufferPointer { sum in
                    for y in 0..<min(r, h) {
                        for x in 0..<w { sum[x] += Int(t[y * w + x]) }
                    }
                    for y in 0..<h {
                        if y + r < h {
                            let add = (y + r) * w
                            for x in 0..<w { sum[x] += Int(t[add + x]) }
                        }
                        if y - r - 1 >= 0 {
                            let sub = (y - r - 1) * w
                            for x in 0..<w { sum[x] -= Int(t[sub + x]) }
                        }
                        let row = y * w
                        for x in 0..<w { o[row + x] = UInt8((sum[x] + div / 2) / div) }
                    }
                }
            }
        }
        return out
    }

    /// Blurs one row or column (`step` apart); samples outside the line count as 0.
    @inline(__always)
    private static func blurLine(
        _ s: UnsafePointer<UInt8>, _ d: UnsafeMutablePointer<UInt8>,
        count n: Int, step: Int, r: Int, div: Int
    ) {
        var sum = 0
        for i in 0..<min(r, n) { sum += Int(s[i * step]) }
        for i in 0..<n {
            let add = i + r, sub = i - r - 1
            if add < n { sum += Int(s[add * step]) }
            if sub >= 0 { sum -= Int(s[sub * step]) }
            d[i * step] = UInt8((sum + div / 2) / div)
        }
    }

    /// Soft dilation: a box blur whose result is amplified and clamped, giving a rounded
    /// outline roughly `r` pixels wide around the shapes in `src`.
    static func dilate(_ src: [UInt8], width w: Int, height h: Int, radius r: Int) -> [UInt8] {
        var out = boxBlur(src, width: w, height: h, radius: r)
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<o.count { o[i] = UInt8(min(255, Int(o[i]) * 4)) }
        }
        // Never thinner than the original glyph.
        src.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<o.count where s[i] > o[i] { o[i] = s[i] }
            }
        }
        return out
    }
}
