import Testing

@testable import Imaging

@Suite("ImageCodec")
struct CodecTests {
    @Test("JPEG round-trip keeps size and pixels stay close")
    func jpegRoundTrip() throws {
        let src = Fixtures.gradient(width: 64, height: 48)
        let bytes = try ImageCodec.encodeJPEG(src, quality: 95)
        #expect(ImageFormat.sniff(bytes) == .jpeg)
        let back = try ImageCodec.decode(bytes)
        #expect(back.width == 64 && back.height == 48)
        var maxDiff = 0
        for i in 0..<src.pixels.count where i % 4 != 3 {
            maxDiff = max(maxDiff, abs(Int(src.pixels[i]) - Int(back.pixels[i])))
        }
        #expect(maxDiff <= 12)
        #expect(back[0, 0].a == 255)
    }

    @Test("a budgeted decode keeps the shape and at most the budget's pixels, a JPEG scaled inside libjpeg")
    func budgetedDecode() throws {
        let source = Fixtures.gradient(width: 1000, height: 500)
        let jpeg = try ImageCodec.encodeJPEG(source, quality: 90)
        let png = try ImageCodec.encodePNG(source, fast: true)
        for bytes in [jpeg, png] {
            let fitted = try ImageCodec.decode(bytes, fittingIn: 20_000)
            #expect(fitted.width * fitted.height <= 20_000)
            #expect(fitted.width == 2 * fitted.height || abs(fitted.width - 2 * fitted.height) <= 1)
            #expect(fitted.width >= 190)
            // Within the budget: decoded as is.
            let whole = try ImageCodec.decode(bytes, fittingIn: 500_000)
            #expect(whole.width == 1000 && whole.height == 500)
        }
        // libjpeg's denominator never shrinks below the budget; the resample finishes.
        #expect(ImageCodec.jpegScaleDenominator(width: 1000, height: 500, budget: 20_000) == 4)
        #expect(ImageCodec.jpegScaleDenominator(width: 6300, height: 6300, budget: 2048 * 2048) == 2)
        #expect(ImageCodec.jpegScaleDenominator(width: 16000, height: 16000, budget: 2048 * 2048) == 4)
        #expect(ImageCodec.jpegScaleDenominator(width: 100, height: 100, budget: 2048 * 2048) == 1)
    }

    @Test("PNG round-trip is lossless including alpha")
    func pngRoundTrip() throws {
        let src = Fixtures.gradient(width: 37, height: 21, alphaCorner: true)
        let bytes = try ImageCodec.encodePNG(src)
        #expect(ImageFormat.sniff(bytes) == .png)
        #expect(try ImageCodec.decode(bytes) == src)
    }

    @Test("dimensions(of:) reads JPEG SOF and PNG IHDR headers only")
    func dimensions() throws {
        let c = Fixtures.gradient(width: 123, height: 45)
        let jpeg = try ImageCodec.encodeJPEG(c)
        #expect(ImageCodec.dimensions(of: jpeg)! == (123, 45))
        #expect(ImageCodec.dimensions(of: try ImageCodec.encodePNG(c))! == (123, 45))
        #expect(ImageCodec.dimensions(of: Fixtures.pngHeader(width: 70000, height: 3))! == (70000, 3))
        #expect(ImageCodec.dimensions(of: Fixtures.grayJPEG)! == (16, 8))
        #expect(ImageCodec.dimensions(of: Array(jpeg.prefix(40))) == nil)
        #expect(ImageCodec.dimensions(of: []) == nil)
        #expect(ImageCodec.dimensions(of: [0xFF, 0xD8, 0xFF]) == nil)
    }

    @Test("grayscale and CMYK JPEGs decode to RGBA")
    func grayAndCMYK() throws {
        let gray = try ImageCodec.decode(Fixtures.grayJPEG)
        #expect(gray.width == 16 && gray.height == 8)
        let top = gray[8, 0], bottom = gray[8, 7]
        #expect(top.r == top.g && top.g == top.b && top.r > 200 && bottom.r < 60)
        let cmyk = try ImageCodec.decode(Fixtures.cmykJPEG)
        let p = cmyk[8, 4]
        #expect(cmyk.width == 16 && p.r > 200 && p.g < 60 && p.b < 60 && p.a == 255)
    }

    @Test("sniff recognises magic bytes and mime types")
    func sniff() {
        #expect(ImageFormat.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) == .png)
        #expect(ImageFormat.sniff(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8)) == .webp)
        #expect(ImageFormat.sniff(Array("RIFF\u{0}\u{0}\u{0}\u{0}WAVE".utf8)) == nil)
        #expect(ImageFormat.sniff([0xFF, 0xD8]) == nil)
        #expect(ImageFormat.sniff([UInt8]()) == nil)
        #expect(ImageFormat.sniff(ArraySlice([0x00, 0xFF, 0xD8, 0xFF]).dropFirst()) == .jpeg)
        #expect(ImageFormat.png.mimeType == "image/png" && ImageFormat.webp.mimeType == "image/webp")
    }

    @Test("empty, unknown and WebP input throw unsupportedFormat")
    func unsupported() {
        #expect(throws: ImagingError.unsupportedFormat) { try ImageCodec.decode([]) }
        #expect(throws: ImagingError.unsupportedFormat) { try ImageCodec.decode(Array("hello world".utf8)) }
        #expect(throws: ImagingError.unsupportedFormat) {
            try ImageCodec.decode(Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8))
        }
    }

    @Test("truncated JPEG and garbage after the JPEG magic throw corrupt")
    func corruptJPEG() throws {
        let jpeg = try ImageCodec.encodeJPEG(Fixtures.gradient(width: 96, height: 64))
        let cases: [[UInt8]] =
            [
                Array(jpeg.prefix(jpeg.count / 2)),
                Array(jpeg.prefix(jpeg.count - 10)),
                [0xFF, 0xD8, 0xFF],
                [0xFF, 0xD8, 0xFF, 0xD9],
            ]
            + (1...20).map { seed in
                var rng = TestRNG(state: UInt64(seed))
                return [0xFF, 0xD8, 0xFF] + rng.bytes(Int(seed) * 50)
            }
        for bytes in cases {
            #expect(throws: ImagingError.self) { try ImageCodec.decode(bytes) }
            #expect(!isTooLargeOrUnsupported(bytes))
        }
    }

    @Test("broken IHDR CRC, truncated PNG and signature-only PNG throw corrupt")
    func corruptPNG() throws {
        let png = try ImageCodec.encodePNG(Fixtures.gradient(width: 50, height: 40))
        var badCRC = png
        badCRC[29] ^= 0xFF  // first byte of the IHDR CRC
        var badIDAT = png
        for i in (png.count - 40)..<(png.count - 14) { badIDAT[i] ^= 0x5A }
        for bytes in [
            badCRC, badIDAT, Array(png.prefix(png.count / 2)), Array(png.prefix(8)),
            Fixtures.pngHeader(width: 10, height: 10),
        ] {
            #expect(throws: ImagingError.self) { try ImageCodec.decode(bytes) }
            #expect(!isTooLargeOrUnsupported(bytes))
        }
    }

    @Test("randomly mutated JPEG and PNG never crash the decoder")
    func mutationFuzz() throws {
        let canvas = Fixtures.gradient(width: 40, height: 30, alphaCorner: true)
        let seeds = [try ImageCodec.encodeJPEG(canvas), try ImageCodec.encodePNG(canvas), Fixtures.cmykJPEG]
        var rng = TestRNG(state: 42)
        for original in seeds {
            for _ in 0..<150 {
                var bytes = original
                for _ in 0..<(1 + Int(rng.next() % 6)) {
                    let at = 3 + Int(rng.next() % UInt64(bytes.count - 3))
                    bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                }
                if rng.next() % 4 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count / 2))) }
                if let c = try? ImageCodec.decode(bytes, maxPixels: 1 << 20) {
                    #expect(c.pixels.count == c.width * c.height * 4)
                }
            }
        }
    }

    @Test("huge declared dimensions are refused before allocation")
    func tooLarge() throws {
        #expect(throws: ImagingError.tooLarge(width: 100_000, height: 100_000)) {
            try ImageCodec.decode(Fixtures.pngHeader(width: 100_000, height: 100_000))
        }
        var jpeg = try ImageCodec.encodeJPEG(Fixtures.gradient(width: 16, height: 16))
        let at = try #require(Fixtures.sof0HeightOffset(jpeg))
        jpeg.replaceSubrange(at..<(at + 4), with: [0xEA, 0x60, 0xEA, 0x60])  // 60000 x 60000
        #expect(ImageCodec.dimensions(of: jpeg)! == (60000, 60000))
        #expect(throws: ImagingError.tooLarge(width: 60000, height: 60000)) { try ImageCodec.decode(jpeg) }
        // Even with no pixel budget the C layer's 16384-per-side cap refuses it.
        #expect(throws: ImagingError.tooLarge(width: 60000, height: 60000)) {
            try ImageCodec.decode(jpeg, maxPixels: .max)
        }
        let small = try ImageCodec.encodePNG(Fixtures.gradient(width: 20, height: 20))
        #expect(throws: ImagingError.tooLarge(width: 20, height: 20)) { try ImageCodec.decode(small, maxPixels: 399) }
    }

    @Test("encoding an empty canvas throws encodeFailed; errors describe themselves")
    func encodeErrors() {
        #expect(throws: ImagingError.self) { try ImageCodec.encodeJPEG(Canvas(width: 0, height: 5)) }
        #expect(throws: ImagingError.self) { try ImageCodec.encodePNG(Canvas(width: 3, height: 0)) }
        #expect(ImagingError.tooLarge(width: 5, height: 6).description == "image too large: 5x6")
        #expect(ImagingError.corrupt("x").description.contains("corrupt"))
    }

    private func isTooLargeOrUnsupported(_ bytes: [UInt8]) -> Bool {
        do {
            _ = try ImageCodec.decode(bytes)
            return false
        } catch {
            if case .tooLarge = error { return true }
            return error == .unsupportedFormat
        }
    }
}
