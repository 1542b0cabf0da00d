import CJPEGTurbo
import CPNG

/// JPEG/PNG encoding and decoding backed by libjpeg-turbo and libpng's simplified API.
///
/// All entry points are safe on hostile input: they throw instead of crashing or exiting.
public enum ImageCodec {
    /// The most pixels an image may declare to be decoded at all (160 MB as RGBA).
    public static let maxDecodedPixels = 40_000_000

    /// Encodes the canvas as a baseline JPEG (alpha is dropped). `quality` is clamped to 1...100.
    public static func encodeJPEG(_ c: Canvas, quality: Int = 90) throws(ImagingError) -> [UInt8] {
        guard c.width > 0, c.height > 0 else { throw .encodeFailed("empty canvas") }
        guard c.pixels.count == c.width * c.height * 4 else { throw .encodeFailed("pixel buffer size mismatch") }
        var out: UnsafeMutablePointer<UInt8>?
        var outLen: UInt = 0
        var err = [CChar](repeating: 0, count: 256)
        let q = Int32(min(100, max(1, quality)))
        let status = c.pixels.withUnsafeBufferPointer { px in
            err.withUnsafeMutableBufferPointer { e in
                nb_jpeg_encode_rgba(
                    px.baseAddress, Int32(c.width), Int32(c.height), q,
                    &out, &outLen, e.baseAddress, e.count)
            }
        }
        defer { nb_free(out) }
        guard status == 0, let out else { throw .encodeFailed(cString(err)) }
        return Array(UnsafeBufferPointer(start: out, count: Int(outLen)))
    }

    /// Encodes the canvas as an 8-bit RGBA PNG. `fast` sets `PNG_IMAGE_FLAG_FAST` (no row
    /// filters): roughly 6× faster, files roughly 1.5× larger.
    public static func encodePNG(_ c: Canvas, fast: Bool = false) throws(ImagingError) -> [UInt8] {
        guard c.width > 0, c.height > 0 else { throw .encodeFailed("empty canvas") }
        guard c.pixels.count == c.width * c.height * 4 else { throw .encodeFailed("pixel buffer size mismatch") }
        var image = png_image()
        image.version = nb_png_image_version()
        image.width = UInt32(c.width)
        image.height = UInt32(c.height)
        image.format = nb_png_format_rgba()
        if fast { image.flags |= UInt32(PNG_IMAGE_FLAG_FAST) }
        let stride = Int32(c.width * 4)
        var size = 0
        // First pass with a nil buffer computes the required size.
        let sized = c.pixels.withUnsafeBytes { px in
            png_image_write_to_memory(&image, nil, &size, 0, px.baseAddress, stride, nil)
        }
        guard sized != 0, size > 0 else {
            defer { png_image_free(&image) }
            throw .encodeFailed(pngMessage(&image))
        }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            c.pixels.withUnsafeBytes { px in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, px.baseAddress, stride, nil)
            }
        }
        guard written != 0 else {
            defer { png_image_free(&image) }
            throw .encodeFailed(pngMessage(&image))
        }
        out.removeSubrange(size...)
        return out
    }

    /// Decodes JPEG or PNG bytes (format sniffed from magic bytes) to an RGBA canvas.
    ///
    /// Throws `.unsupportedFormat` for WebP and unknown data, `.tooLarge` when the header
    /// declares more than `maxPixels` pixels (checked before any pixel allocation), and
    /// `.corrupt` for damaged or truncated data.
    public static func decode(_ bytes: [UInt8], maxPixels: Int = maxDecodedPixels) throws(ImagingError) -> Canvas {
        switch ImageFormat.sniff(bytes) {
        case .jpeg: return try decodeJPEG(bytes, maxPixels: maxPixels, budget: .max)
        case .png: return try decodePNG(bytes, maxPixels: maxPixels)
        case .webp, nil: throw .unsupportedFormat
        }
    }

    /// Decodes as ``decode(_:maxPixels:)`` does, then scales the image down, keeping its
    /// shape, until it has at most `budget` pixels. A JPEG is scaled while it is decoded
    /// (libjpeg's 1/2, 1/4 or 1/8 IDCT), so its full size is never in memory; a PNG is
    /// decoded whole (at most `maxPixels`) and scaled at once, so the caller holds one
    /// full-size image at a time, never several.
    public static func decode(
        _ bytes: [UInt8], maxPixels: Int = maxDecodedPixels, fittingIn budget: Int
    ) throws(ImagingError) -> Canvas {
        let canvas: Canvas
        switch ImageFormat.sniff(bytes) {
        case .jpeg: canvas = try decodeJPEG(bytes, maxPixels: maxPixels, budget: budget)
        case .png: canvas = try decodePNG(bytes, maxPixels: maxPixels)
        case .webp, nil: throw .unsupportedFormat
        }
        guard canvas.width * canvas.height > max(1, budget) else { return canvas }
        let factor = (Double(max(1, budget)) / Double(canvas.width * canvas.height)).squareRoot()
        return canvas.scaled(
            width: max(1, Int(Double(canvas.width) * factor)), height: max(1, Int(Double(canvas.height) * factor)))
    }

    /// The largest libjpeg scale denominator (8, 4, 2 or 1) that keeps at least `budget`
    /// pixels, so that the final resample only ever shrinks.
    static func jpegScaleDenominator(width: Int, height: Int, budget: Int) -> Int32 {
        for denominator in [8, 4, 2] {
            let scaled = ((width + denominator - 1) / denominator) * ((height + denominator - 1) / denominator)
            if scaled >= budget { return Int32(denominator) }
        }
        return 1
    }

    private static func decodeJPEG(_ bytes: [UInt8], maxPixels: Int, budget: Int) throws(ImagingError) -> Canvas {
        var err = [CChar](repeating: 0, count: 256)
        var w: Int32 = 0, h: Int32 = 0
        let header = bytes.withUnsafeBufferPointer { src in
            err.withUnsafeMutableBufferPointer { e in
                nb_jpeg_read_header(src.baseAddress, src.count, &w, &h, e.baseAddress, e.count)
            }
        }
        guard header == 0 else { throw .corrupt(cString(err)) }
        guard w > 0, h > 0 else { throw .corrupt("zero dimension") }
        guard Int(w) * Int(h) <= maxPixels else { throw .tooLarge(width: Int(w), height: Int(h)) }

        let denominator = jpegScaleDenominator(width: Int(w), height: Int(h), budget: budget)
        var out: UnsafeMutablePointer<UInt8>?
        let status = bytes.withUnsafeBufferPointer { src in
            err.withUnsafeMutableBufferPointer { e in
                nb_jpeg_decode(src.baseAddress, src.count, denominator, &out, &w, &h, e.baseAddress, e.count)
            }
        }
        defer { nb_free(out) }
        if status == NB_JPEG_ERR_TOO_LARGE { throw .tooLarge(width: Int(w), height: Int(h)) }
        guard status == 0, let out else { throw .corrupt(cString(err)) }
        let count = Int(w) * Int(h) * 4
        return Canvas(
            width: Int(w), height: Int(h),
            pixels: Array(UnsafeBufferPointer(start: out, count: count)))
    }

    private static func decodePNG(_ bytes: [UInt8], maxPixels: Int) throws(ImagingError) -> Canvas {
        // Cheap IHDR pre-check: refuse oversized images before libpng reads further chunks.
        if let (w, h) = dimensions(of: bytes), w * h > maxPixels {
            throw .tooLarge(width: w, height: h)
        }
        // libpng keeps the memory pointer between begin_read and finish_read, so both
        // calls happen inside one withUnsafeBytes scope.
        let result: Result<Canvas, ImagingError> = bytes.withUnsafeBytes { src in
            var image = png_image()
            image.version = nb_png_image_version()
            defer { png_image_free(&image) }  // no-op after a successful finish_read
            guard png_image_begin_read_from_memory(&image, src.baseAddress, src.count) != 0,
                nb_png_image_failed(image.warning_or_error) == 0
            else {
                return .failure(.corrupt(pngMessage(&image)))
            }
            let w = Int(image.width), h = Int(image.height)
            guard w > 0, h > 0 else { return .failure(.corrupt("zero dimension")) }
            guard w * h <= maxPixels else { return .failure(.tooLarge(width: w, height: h)) }
            image.format = nb_png_format_rgba()
            var pixels = [UInt8](repeating: 0, count: w * h * 4)
            let finished = pixels.withUnsafeMutableBytes { dst in
                png_image_finish_read(&image, nil, dst.baseAddress, Int32(w * 4), nil)
            }
            guard finished != 0, nb_png_image_failed(image.warning_or_error) == 0 else {
                return .failure(.corrupt(pngMessage(&image)))
            }
            return .success(Canvas(width: w, height: h, pixels: pixels))
        }
        return try result.get()
    }

    private static func pngMessage(_ image: inout png_image) -> String {
        let msg = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return msg.isEmpty ? "libpng error" : msg
    }

    private static func cString(_ buf: [CChar]) -> String {
        let bytes = buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return bytes.isEmpty ? "unknown error" : String(decoding: bytes, as: UTF8.self)
    }
}
