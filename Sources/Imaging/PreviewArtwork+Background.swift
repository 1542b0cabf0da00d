import Foundation

/// Seed-derived colours for one artwork.
struct Palette {
    var deep: SIMD3<Float>
    var mid: SIMD3<Float>
    var accent: SIMD3<Float>
    var glow: SIMD3<Float>
    var textFill: SIMD3<Float>
    var outline: SIMD3<Float>

    /// Hand-picked gradient families (deep, mid, accent, glow) so every seed looks designed;
    /// the seed picks one and rotates its hue by up to ±15°.
    private static let families: [[UInt32]] = [
        [0x1B1F4B, 0x6B2D6B, 0xE8625A, 0xFFC27A], [0x0B2540, 0x145C7A, 0x2FB3B0, 0xA6F0E0],
        [0x0F2A22, 0x2D5E3E, 0x9CB34A, 0xE9E6A1], [0x2A0F2E, 0x6A1B4D, 0xD6457A, 0xFFB3C6],
        [0x10123A, 0x2E2A8C, 0x7B5CFF, 0xC9B8FF], [0x1F0D08, 0x6B1F12, 0xE0642A, 0xFFD08A],
        [0x0E1B2E, 0x2B4A73, 0x7FB2E5, 0xE6F3FF], [0x062A2F, 0x0E5A5A, 0xD4A437, 0xFFE7A3],
        [0x231433, 0x5B3A7A, 0xF29E7D, 0xFFE0C7], [0x050B1F, 0x15315E, 0x1FA2D6, 0x9FF0FF],
        [0x2B0A12, 0x6E1630, 0xC9953D, 0xF8E3A0], [0x1D232E, 0x3F4C63, 0xFF7A66, 0xFFD2C2],
    ]

    init(rng: inout SplitMix64) {
        let family = Self.families[rng.int(below: Self.families.count)]
        let turn = Float(rng.double(in: -15...15)) * .pi / 180
        let colors = family.map { hex in
            hueRotate(SIMD3(Float(hex >> 16 & 0xFF), Float(hex >> 8 & 0xFF), Float(hex & 0xFF)), turn)
        }
        deep = colors[0]
        mid = colors[1]
        accent = colors[2]
        glow = colors[3]
        textFill = mix(SIMD3(repeating: 255), glow, 0.15)
        outline = mix(SIMD3(repeating: 0), deep, 0.45)
    }
}

/// Rotates hue by `angle` radians around the grey axis (the CSS `hue-rotate` matrix).
func hueRotate(_ c: SIMD3<Float>, _ angle: Float) -> SIMD3<Float> {
    let (k, s) = (cos(angle), sin(angle))
    let r =
        c.x * (0.299 + 0.701 * k + 0.168 * s) + c.y * (0.587 - 0.587 * k + 0.330 * s)
        + c.z * (0.114 - 0.114 * k - 0.497 * s)
    let g =
        c.x * (0.299 - 0.299 * k - 0.328 * s) + c.y * (0.587 + 0.413 * k + 0.035 * s)
        + c.z * (0.114 - 0.114 * k + 0.292 * s)
    let b =
        c.x * (0.299 - 0.300 * k - 1.250 * s) + c.y * (0.587 - 0.588 * k + 1.050 * s)
        + c.z * (0.114 + 0.886 * k - 0.203 * s)
    return clampColor(SIMD3(r, g, b))
}

private func clampColor(_ v: SIMD3<Float>) -> SIMD3<Float> {
    v.clamped(lowerBound: SIMD3(repeating: 0), upperBound: SIMD3(repeating: 255))
}

@inline(__always)
func mix(_ a: SIMD3<Float>, _ b: SIMD3<Float>, _ t: Float) -> SIMD3<Float> {
    a + (b - a) * t
}

@inline(__always)
func smoothstep(_ e0: Float, _ e1: Float, _ x: Float) -> Float {
    let t = min(1, max(0, (x - e0) / (e1 - e0)))
    return t * t * (3 - 2 * t)
}

/// A soft glow (wide falloff) or a bokeh disc (anti-aliased edge).
private struct Orb {
    var cx: Float, cy: Float, radius: Float, alpha: Float, softness: Float
    var color: SIMD3<Float>
}

/// A translucent light band along a line `x*cos + y*sin = offset`.
private struct Band {
    var cos: Float, sin: Float, offset: Float, halfWidth: Float, alpha: Float
}

extension PreviewArtwork {
    /// Paints gradient, orbs, light bands and a vignette row by row (O(pixels) plus each orb's
    /// bounding box), with 4×4 ordered dithering against banding.
    static func paintBackground(_ canvas: inout Canvas, palette p: Palette, rng: inout SplitMix64) {
        let w = canvas.width, h = canvas.height
        let fw = Float(w), fh = Float(h), minDim = Float(min(w, h))
        let angle = Float(rng.double(in: 0...(2 * .pi)))
        let (ca, sa) = (cos(angle), sin(angle))
        let corners = [Float(0), ca * fw, sa * fh, ca * fw + sa * fh]
        let pMin = corners.min() ?? 0, span = max(1, (corners.max() ?? 1) - pMin)
        let stop = Float(rng.double(in: 0.4...0.65))

        let aspect = Int(max(fw, fh) / minDim)
        let orbCount = 5 + rng.int(below: 4) + min(aspect, 8)
        var orbs: [Orb] = []
        for _ in 0..<orbCount {
            let soft = rng.unit() < 0.6
            let color = [p.glow, p.accent, p.mid, SIMD3<Float>(repeating: 255)][rng.int(below: soft ? 3 : 4)]
            orbs.append(
                Orb(
                    cx: Float(rng.unit()) * fw, cy: Float(rng.unit()) * fh,
                    radius: minDim * Float(soft ? rng.double(in: 0.25...0.6) : rng.double(in: 0.05...0.2)),
                    alpha: Float(soft ? rng.double(in: 0.18...0.38) : rng.double(in: 0.06...0.14)),
                    softness: soft ? 1 : 0.04, color: color))
        }
        var bands: [Band] = []
        let bandAngle = angle + .pi / 2 + Float(rng.double(in: -0.35...0.35))
        for _ in 0..<(2 + rng.int(below: 2)) {
            let (bc, bs) = (cos(bandAngle), sin(bandAngle))
            let proj = [Float(0), bc * fw, bs * fh, bc * fw + bs * fh]
            let lo = proj.min() ?? 0, hi = proj.max() ?? 1
            bands.append(
                Band(
                    cos: bc, sin: bs, offset: lo + (hi - lo) * Float(rng.unit()),
                    halfWidth: minDim * Float(rng.double(in: 0.04...0.16)),
                    alpha: Float(rng.double(in: 0.05...0.11))))
        }
        let vignette = Float(rng.double(in: 0.25...0.4))

        // Everything here is smooth, so large canvases are painted on a grid `f` times
        // coarser (~1 Mpx) and bilinearly upscaled; the per-output-pixel cost stays tiny.
        let f = max(1, Int((Double(w) * Double(h) / 1_048_576).squareRoot()))
        let bw = (w + f - 1) / f, bh = (h + f - 1) / f, ff = Float(f)
        var low = [SIMD3<Float>](repeating: .zero, count: bw * bh)
        low.withUnsafeMutableBufferPointer { px in
            for y in 0..<bh {
                let fy = (Float(y) + 0.5) * ff
                let row = px.baseAddress! + y * bw
                for x in 0..<bw {  // three-stop linear gradient
                    let t = ((Float(x) + 0.5) * ff * ca + fy * sa - pMin) / span
                    row[x] =
                        t < stop
                        ? mix(p.deep, p.mid, smoothstep(0, stop, t))
                        : mix(p.mid, p.accent, smoothstep(stop, 1, t))
                }
                for orb in orbs {
                    let dy = fy - orb.cy
                    guard abs(dy) < orb.radius else { continue }
                    let half = (orb.radius * orb.radius - dy * dy).squareRoot()
                    let x0 = max(0, Int((orb.cx - half) / ff)), x1 = min(bw, Int((orb.cx + half) / ff) + 1)
                    guard x0 < x1 else { continue }
                    // Falloff on squared distance: no square root per pixel.
                    let inner = (1 - orb.softness) * (1 - orb.softness)
                    let invR2 = 1 / (orb.radius * orb.radius), dy2 = dy * dy
                    let edge = 1 / (1 - inner)
                    for x in x0..<x1 {
                        let dx = (Float(x) + 0.5) * ff - orb.cx
                        let t = min(1, max(0, ((dx * dx + dy2) * invR2 - inner) * edge))
                        row[x] = mix(row[x], orb.color, orb.alpha * (1 - t * t * (3 - 2 * t)))
                    }
                }
                let ny = (fy / fh - 0.5) * 2
                for x in 0..<bw {
                    let fx = (Float(x) + 0.5) * ff
                    var c = row[x]
                    for band in bands {
                        let d = abs(fx * band.cos + fy * band.sin - band.offset) / band.halfWidth
                        if d < 1 { c = mix(c, SIMD3(repeating: 255), band.alpha * (1 - d * d)) }
                    }
                    let nx = (fx / fw - 0.5) * 2
                    row[x] = c * (1 - vignette * smoothstep(0.35, 2, nx * nx + ny * ny))
                }
            }
        }
        upscaleDithered(low, width: bw, height: bh, factor: f, into: &canvas)
    }

    /// Bilinear upscale of a coarse colour grid into the canvas with 4×4 ordered dithering.
    private static func upscaleDithered(
        _ low: [SIMD3<Float>], width bw: Int, height bh: Int,
        factor f: Int, into canvas: inout Canvas
    ) {
        let w = canvas.width, h = canvas.height
        let bayer: [Float] = [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5].map { ($0 - 7.5) / 16 }
        func taps(_ n: Int, _ size: Int) -> [(Int, Int, Float)] {
            (0..<n).map { i in
                let s = max(0, (Float(i) + 0.5) / Float(f) - 0.5)
                let i0 = min(size - 1, Int(s))
                return (i0, min(size - 1, i0 + 1), s - Float(i0))
            }
        }
        let xs = taps(w, bw), ys = taps(h, bh)
        var line = [SIMD3<Float>](repeating: .zero, count: bw)
        low.withUnsafeBufferPointer { lo in
            canvas.pixels.withUnsafeMutableBufferPointer { px in
                for y in 0..<h {
                    let (y0, y1, wy) = ys[y]
                    for x in 0..<bw { line[x] = mix(lo[y0 * bw + x], lo[y1 * bw + x], wy) }
                    let bi = (y & 3) * 4
                    for x in 0..<w {
                        let (x0, x1, wx) = xs[x]
                        let c = mix(line[x0], line[x1], wx) + bayer[bi + (x & 3)]
                        let o = (y * w + x) * 4
                        px[o] = clampByte(c.x)
                        px[o + 1] = clampByte(c.y)
                        px[o + 2] = clampByte(c.z)
                        px[o + 3] = 255
                    }
                }
            }
        }
    }
}
