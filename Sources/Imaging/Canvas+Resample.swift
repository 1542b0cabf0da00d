extension Canvas {
    /// Resamples to exactly `width` × `height`, ignoring aspect ratio.
    ///
    /// Uses a separable triangle (bilinear) filter whose support widens when shrinking,
    /// so downscaling area-averages instead of aliasing. Alpha is premultiplied while filtering.
    public func scaled(width w: Int, height h: Int) -> Canvas {
        resample(srcX: 0, srcY: 0, srcW: Double(width), srcH: Double(height), dstW: w, dstH: h)
    }

    /// Scales preserving aspect ratio so the result fits inside `width` × `height`.
    /// The result may be smaller than the box in one dimension (never below 1 pixel).
    public func scaled(toFitWidth w: Int, height h: Int) -> Canvas {
        guard width > 0, height > 0, w > 0, h > 0 else { return Canvas(width: max(0, w), height: max(0, h)) }
        let s = min(Double(w) / Double(width), Double(h) / Double(height))
        let ow = min(w, max(1, Int((Double(width) * s).rounded())))
        let oh = min(h, max(1, Int((Double(height) * s).rounded())))
        return scaled(width: ow, height: oh)
    }

    /// Scales preserving aspect ratio so the result covers `width` × `height`, then
    /// centre-crops: the result is exactly `width` × `height`.
    public func scaled(toFillWidth w: Int, height h: Int) -> Canvas {
        guard width > 0, height > 0, w > 0, h > 0 else { return Canvas(width: max(0, w), height: max(0, h)) }
        let s = max(Double(w) / Double(width), Double(h) / Double(height))
        let sw = Double(w) / s, sh = Double(h) / s
        return resample(
            srcX: (Double(width) - sw) / 2, srcY: (Double(height) - sh) / 2,
            srcW: sw, srcH: sh, dstW: w, dstH: h)
    }

    private func resample(
        srcX: Double, srcY: Double, srcW: Double, srcH: Double,
        dstW: Int, dstH: Int
    ) -> Canvas {
        guard dstW > 0, dstH > 0 else { return Canvas(width: max(0, dstW), height: max(0, dstH)) }
        guard width > 0, height > 0 else { return Canvas(width: dstW, height: dstH) }
        let wx = FilterWeights(srcSize: width, origin: srcX, span: srcW, dstSize: dstW)
        let wy = FilterWeights(srcSize: height, origin: srcY, span: srcH, dstSize: dstH)
        // The horizontal pass runs row by row into a ring of `wy.maxTaps` rows, just ahead
        // of the vertical pass: output rows read ever later source windows (`wy.starts` is
        // non-decreasing) of at most that many rows, so a row below the current window is
        // never read again. Memory is a few rows, not a full-height intermediate (206 MB
        // for a 6300-pixel-tall image scaled to 2048 wide).
        let ringRows = max(1, wy.maxTaps)
        var ring = [Float](repeating: 0, count: ringRows * dstW * 4)
        var nextRow = 0
        var out = [UInt8](repeating: 0, count: dstW * dstH * 4)
        pixels.withUnsafeBufferPointer { src in
            ring.withUnsafeMutableBufferPointer { t in
                out.withUnsafeMutableBufferPointer { o in
                    for oy in 0..<dstH {
                        let start = wy.starts[oy], count = wy.counts[oy]
                        for sy in max(nextRow, start)..<(start + count) {
                            Self.horizontalPass(
                                row: sy, of: src, width: width, weights: wx, into: t, slot: sy % ringRows)
                        }
                        nextRow = max(nextRow, start + count)
                        let wbase = oy * wy.maxTaps
                        for ox in 0..<dstW {
                            var r: Float = 0, g: Float = 0, b: Float = 0, a: Float = 0
                            for k in 0..<count {
                                let w = wy.weights[wbase + k]
                                let p = (((start + k) % ringRows) * dstW + ox) * 4
                                r += t[p] * w; g += t[p + 1] * w; b += t[p + 2] * w; a += t[p + 3] * w
                            }
                            let q = (oy * dstW + ox) * 4
                            if a > 0.5 {
                                let inv = 1 / a
                                o[q] = clampByte(r * inv)
                                o[q + 1] = clampByte(g * inv)
                                o[q + 2] = clampByte(b * inv)
                                o[q + 3] = clampByte(a)
                            }
                        }
                    }
                }
            }
        }
        return Canvas(width: dstW, height: dstH, pixels: out)
    }
}

extension Canvas {
    /// One source row filtered horizontally into a ring slot, alpha premultiplied.
    @inline(__always)
    fileprivate static func horizontalPass(
        row sy: Int, of src: UnsafeBufferPointer<UInt8>, width: Int, weights wx: FilterWeights,
        into t: UnsafeMutableBufferPointer<Float>, slot: Int
    ) {
        let srow = sy * width
        let trow = slot * wx.starts.count
        for ox in 0..<wx.starts.count {
            var r: Float = 0, g: Float = 0, b: Float = 0, a: Float = 0
            let start = wx.starts[ox], wbase = ox * wx.maxTaps
            for k in 0..<wx.counts[ox] {
                let p = (srow + start + k) * 4
                let wa = wx.weights[wbase + k] * Float(src[p + 3])
                r += Float(src[p]) * wa
                g += Float(src[p + 1]) * wa
                b += Float(src[p + 2]) * wa
                a += wa
            }
            let o = (trow + ox) * 4
            t[o] = r; t[o + 1] = g; t[o + 2] = b; t[o + 3] = a
        }
    }
}

@inline(__always)
func clampByte(_ v: Float) -> UInt8 {
    v <= 0 ? 0 : (v >= 255 ? 255 : UInt8(v + 0.5))
}

/// Precomputed 1-D filter taps mapping `dstSize` outputs onto a span of the source.
private struct FilterWeights {
    var starts: [Int] = []
    var counts: [Int] = []
    var weights: [Float] = []
    var maxTaps = 0

    init(srcSize: Int, origin: Double, span: Double, dstSize: Int) {
        let scale = span / Double(dstSize)
        let support = max(1.0, scale)
        maxTaps = Int((support * 2).rounded(.up)) + 2
        weights = [Float](repeating: 0, count: maxTaps * dstSize)
        starts.reserveCapacity(dstSize)
        counts.reserveCapacity(dstSize)
        for i in 0..<dstSize {
            let center = origin + (Double(i) + 0.5) * scale
            var lo = Int((center - support).rounded(.down))
            var hi = Int((center + support).rounded(.up))
            lo = max(0, min(srcSize - 1, lo))
            hi = max(lo + 1, min(srcSize, hi, lo + maxTaps))
            var total = 0.0
            var taps: [Double] = []
            for j in lo..<hi {
                let w = max(0, 1 - abs((Double(j) + 0.5 - center) / support))
                taps.append(w)
                total += w
            }
            if total <= 0 {  // centre fell between taps at the edge: nearest sample
                taps = [Double](repeating: 0, count: hi - lo)
                let nearest = max(lo, min(hi - 1, Int(center)))
                taps[nearest - lo] = 1
                total = 1
            }
            for (k, w) in taps.enumerated() {
                weights[i * maxTaps + k] = Float(w / total)
            }
            starts.append(lo)
            counts.append(hi - lo)
        }
    }
}
