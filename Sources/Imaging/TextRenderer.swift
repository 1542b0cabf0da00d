import CFreeType
import Synchronization

/// Renders text with FreeType into RGBA canvases.
///
/// Thread safety: FreeType's `FT_Library`/`FT_Face` must not be used from two threads at
/// once. Each renderer owns one library and one face and guards every FreeType call with a
/// `Mutex` (Synchronization), so one instance can be shared by many concurrent tasks. The
/// alternative — a fresh `FT_Library` per call — would re-parse the font file on every render;
/// glyph rasterisation is a tiny part of a render, so serialising it costs little.
public final class TextRenderer: Sendable {
    /// DejaVu Sans Bold from Debian's `fonts-dejavu-core`.
    public static let defaultFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

    /// Largest pixel size accepted; larger requests are clamped.
    public static let maxPixelSize = 2048

    private let state: Mutex<FaceState>

    /// Loads the font at `fontPath` (any format FreeType reads: TTF, OTF, ...).
    public init(fontPath: String = TextRenderer.defaultFontPath) throws(ImagingError) {
        var library: FT_Library?
        guard FT_Init_FreeType(&library) == 0, let library else {
            throw .fontUnavailable("FreeType initialisation failed")
        }
        var face: FT_Face?
        let err = FT_New_Face(library, fontPath, 0, &face)
        guard err == 0, let face else {
            FT_Done_FreeType(library)
            throw .fontUnavailable("cannot load \(fontPath) (FreeType error \(err))")
        }
        state = Mutex(FaceState(library: library, face: face, hasKerning: nb_ft_has_kerning(face) != 0))
    }

    deinit {
        state.withLock { s in
            FT_Done_Face(s.face)
            FT_Done_FreeType(s.library)
        }
    }

    /// Measures a single line: advance width, line height (ascent + descent) and ascent, in pixels.
    public func measure(_ text: String, pixelSize: Int) -> (width: Int, height: Int, ascent: Int) {
        var right = 0
        let metrics = forEachGlyph(text, pixelSize: pixelSize, renderBitmaps: false) { _, penEnd in
            right = max(right, penEnd)
        }
        return (right, metrics.ascent + metrics.descent, metrics.ascent)
    }

    /// Draws one line of text with its pen starting at `x` on baseline `baselineY`,
    /// alpha-blending the glyph coverage in `color`. Characters without a glyph are skipped.
    public func draw(
        _ text: String, pixelSize: Int, into canvas: inout Canvas,
        x: Int, baselineY: Int, color: RGBA
    ) {
        let (cw, ch) = (canvas.width, canvas.height)
        let (r, g, b, a) = (Int(color.r), Int(color.g), Int(color.b), Int(color.a))
        canvas.pixels.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            _ = forEachGlyph(text, pixelSize: pixelSize, renderBitmaps: true) { glyph, _ in
                guard let glyph else { return }
                let gx = x + glyph.left, gy = baselineY - glyph.top
                let rows = max(0, -gy)..<max(max(0, -gy), min(glyph.rows, ch - gy))
                let cols = max(0, -gx)..<max(max(0, -gx), min(glyph.width, cw - gx))
                for row in rows {
                    for col in cols {
                        let cov = Int(glyph.coverage(col, row))
                        guard cov > 0 else { continue }
                        blendPixel(base + ((gy + row) * cw + gx + col) * 4, r, g, b, (cov * a + 127) / 255)
                    }
                }
            }
        }
    }

    /// Iterates the glyphs of `text` at `pixelSize` under the face lock. `body` receives the
    /// glyph bitmap (positioned relative to the pen origin; `nil` when `renderBitmaps` is false)
    /// and the pen position in pixels after the glyph's advance.
    func forEachGlyph(
        _ text: String, pixelSize: Int, renderBitmaps: Bool,
        _ body: (GlyphBitmap?, Int) -> Void
    ) -> (ascent: Int, descent: Int) {
        let size = min(Self.maxPixelSize, max(1, pixelSize))
        return state.withLock { s in
            if s.currentSize != size {
                FT_Set_Pixel_Sizes(s.face, 0, FT_UInt(size))
                s.currentSize = size
            }
            let m = s.face.pointee.size.pointee.metrics
            let ascent = Int((m.ascender + 63) >> 6), descent = Int(-m.descender >> 6)
            let flags = renderBitmaps ? nb_ft_load_render() : nb_ft_load_default()
            var pen = 0  // 26.6 fixed point
            var previous: FT_UInt = 0
            for scalar in text.unicodeScalars {
                let index = FT_Get_Char_Index(s.face, FT_ULong(scalar.value))
                guard index != 0 else { continue }  // missing glyph: skip
                if s.hasKerning && previous != 0 {
                    var delta = FT_Vector()
                    if FT_Get_Kerning(s.face, previous, index, FT_KERNING_DEFAULT.rawValue, &delta) == 0 {
                        pen += Int(delta.x)
                    }
                }
                previous = index
                guard FT_Load_Glyph(s.face, index, flags) == 0 else { continue }
                let slot = s.face.pointee.glyph.pointee
                let origin = (pen + 32) >> 6
                pen += Int(slot.advance.x)
                var glyph: GlyphBitmap?
                if renderBitmaps, let buffer = slot.bitmap.buffer, slot.bitmap.rows > 0, slot.bitmap.width > 0 {
                    let mode = slot.bitmap.pixel_mode
                    if mode == UInt8(FT_PIXEL_MODE_GRAY.rawValue) || mode == UInt8(FT_PIXEL_MODE_MONO.rawValue) {
                        glyph = GlyphBitmap(
                            buffer: UnsafePointer(buffer), pitch: Int(slot.bitmap.pitch),
                            width: Int(slot.bitmap.width), rows: Int(slot.bitmap.rows),
                            left: origin + Int(slot.bitmap_left), top: Int(slot.bitmap_top),
                            mono: mode == UInt8(FT_PIXEL_MODE_MONO.rawValue))
                    }
                }
                body(glyph, (pen + 63) >> 6)
            }
            return (ascent, descent)
        }
    }
}

/// FreeType handles owned by one `TextRenderer`; only touched while its mutex is held.
struct FaceState: ~Copyable {
    let library: FT_Library
    let face: FT_Face
    let hasKerning: Bool
    var currentSize = 0
}

/// A borrowed view of FreeType's current glyph bitmap; valid only inside `forEachGlyph`.
struct GlyphBitmap {
    let buffer: UnsafePointer<UInt8>
    let pitch: Int
    let width: Int
    let rows: Int
    /// Left edge relative to the line's pen origin.
    let left: Int
    /// Distance from the baseline up to the top row.
    let top: Int
    let mono: Bool

    /// Coverage 0...255 of the bitmap pixel at (col, row).
    @inline(__always)
    func coverage(_ col: Int, _ row: Int) -> UInt8 {
        // A negative pitch means rows are stored bottom-up from `buffer`.
        let rowPtr = pitch >= 0 ? buffer + row * pitch : buffer + (rows - 1 - row) * -pitch
        if mono {
            return (rowPtr[col >> 3] & (0x80 >> UInt8(col & 7))) != 0 ? 255 : 0
        }
        return rowPtr[col]
    }
}
