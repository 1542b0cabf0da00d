/// An RGBA raster: 8 bits per channel, straight alpha, row-major, no padding.
///
/// `pixels.count` must stay equal to `width * height * 4`.
public struct Canvas: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Interleaved RGBA bytes, row-major, `width * height * 4` long.
    public var pixels: [UInt8]

    /// Creates a canvas filled with one colour. Negative sizes are treated as 0.
    public init(width: Int, height: Int, fill: RGBA = .clear) {
        self.width = max(0, width)
        self.height = max(0, height)
        let count = self.width * self.height
        var bytes = [UInt8](repeating: 0, count: count * 4)
        if fill != .clear {
            bytes.withUnsafeMutableBufferPointer { buf in
                for i in 0..<count {
                    buf[i * 4] = fill.r
                    buf[i * 4 + 1] = fill.g
                    buf[i * 4 + 2] = fill.b
                    buf[i * 4 + 3] = fill.a
                }
            }
        }
        self.pixels = bytes
    }

    /// Wraps existing RGBA bytes; `pixels.count` must equal `width * height * 4`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(
            width >= 0 && height >= 0 && pixels.count == width * height * 4,
            "pixel buffer does not match \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Reads or writes one pixel (no blending). Coordinates must be in bounds.
    public subscript(x: Int, y: Int) -> RGBA {
        get {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel out of bounds")
            let i = (y * width + x) * 4
            return RGBA(r: pixels[i], g: pixels[i + 1], b: pixels[i + 2], a: pixels[i + 3])
        }
        set {
            precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel out of bounds")
            let i = (y * width + x) * 4
            pixels[i] = newValue.r
            pixels[i + 1] = newValue.g
            pixels[i + 2] = newValue.b
            pixels[i + 3] = newValue.a
        }
    }

    /// Returns the pixel at (x, y), or `nil` when outside the canvas.
    public func pixel(x: Int, y: Int) -> RGBA? {
        guard x >= 0, x < width, y >= 0, y < height else { return nil }
        return self[x, y]
    }

    /// Alpha-blends `color` over a rectangle, clipped to the canvas.
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: RGBA) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + max(0, w)), y1 = min(height, y + max(0, h))
        guard x0 < x1, y0 < y1, color.a > 0 else { return }
        let (r, g, b, a) = (Int(color.r), Int(color.g), Int(color.b), Int(color.a))
        let stride = width
        pixels.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for row in y0..<y1 {
                for col in x0..<x1 {
                    blendPixel(base + (row * stride + col) * 4, r, g, b, a)
                }
            }
        }
    }

    /// Alpha-blends `other` over this canvas with its top-left corner at (x, y),
    /// multiplying its alpha by `opacity` (0...1). Parts outside the canvas are clipped.
    public mutating func composite(_ other: Canvas, at x: Int, y: Int, opacity: Double = 1) {
        let op = Int((min(1, max(0, opacity)) * 255).rounded())
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + other.width), y1 = min(height, y + other.height)
        guard x0 < x1, y0 < y1, op > 0 else { return }
        let dstStride = width, srcStride = other.width
        other.pixels.withUnsafeBufferPointer { src in
            pixels.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                for row in y0..<y1 {
                    for col in x0..<x1 {
                        let sp = s + ((row - y) * srcStride + (col - x)) * 4
                        let alpha = (Int(sp[3]) * op + 127) / 255
                        blendPixel(
                            d + (row * dstStride + col) * 4,
                            Int(sp[0]), Int(sp[1]), Int(sp[2]), alpha)
                    }
                }
            }
        }
    }
}

/// Source-over blend of a straight-alpha colour (`a` in 0...255) into the pixel at `p`.
@inline(__always)
func blendPixel(_ p: UnsafeMutablePointer<UInt8>, _ r: Int, _ g: Int, _ b: Int, _ a: Int) {
    guard a > 0 else { return }
    let da = Int(p[3])
    if a >= 255 || da == 0 {
        p[0] = UInt8(truncatingIfNeeded: r)
        p[1] = UInt8(truncatingIfNeeded: g)
        p[2] = UInt8(truncatingIfNeeded: b)
        p[3] = UInt8(min(255, a))
        return
    }
    let inv = 255 - a
    if da == 255 {
        p[0] = UInt8((Int(p[0]) * inv + r * a + 127) / 255)
        p[1] = UInt8((Int(p[1]) * inv + g * a + 127) / 255)
        p[2] = UInt8((Int(p[2]) * inv + b * a + 127) / 255)
        return
    }
    // General case: both partially transparent.
    let dw = da * inv  // destination weight, scaled by 255
    let sw = a * 255  // source weight, scaled by 255
    let total = sw + dw  // = outAlpha * 255
    p[0] = UInt8((r * sw + Int(p[0]) * dw + total / 2) / total)
    p[1] = UInt8((g * sw + Int(p[1]) * dw + total / 2) / total)
    p[2] = UInt8((b * sw + Int(p[2]) * dw + total / 2) / total)
    p[3] = UInt8((total + 127) / 255)
}
