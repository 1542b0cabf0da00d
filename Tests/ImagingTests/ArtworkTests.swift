import Testing

@testable import Imaging

@Suite("PreviewArtwork and TextRenderer")
struct ArtworkTests {
    @Test("same inputs give identical pixels; seed, prompt and fingerprint change them")
    func determinism() throws {
        let text = try Fixtures.renderer
        func render(_ seed: Int64, _ prompt: String = Fixtures.mexitalyPrompt, _ fp: String = "fp") -> Canvas {
            PreviewArtwork.render(
                prompt: prompt, seed: seed, width: 320, height: 256,
                references: [], fingerprint: fp, text: text)
        }
        let a = render(420875)
        #expect(a == render(420875))
        #expect(a.pixels != render(7).pixels)
        #expect(a.pixels != render(420875, "a 'different' prompt").pixels)
        #expect(a.pixels != render(420875, Fixtures.mexitalyPrompt, "other").pixels)
        // Different seeds differ broadly (palette/gradient), not just in a few pixels.
        let b = render(7)
        let differing = stride(from: 0, to: a.pixels.count, by: 4).filter { a.pixels[$0] != b.pixels[$0] }.count
        #expect(differing > a.width * a.height / 2)
    }

    @Test(
        "output has exactly the requested size for extreme ratios",
        arguments: [
            (256, 256), (384, 3072), (6144, 768), (1376, 768), (1, 1), (17, 900),
        ])
    func sizes(_ size: (Int, Int)) throws {
        let c = PreviewArtwork.render(
            prompt: Fixtures.mexitalyPrompt, seed: 1, width: size.0, height: size.1,
            references: [Fixtures.gradient(width: 30, height: 20)],
            fingerprint: "x", text: try Fixtures.renderer)
        #expect(c.width == size.0 && c.height == size.1 && c.pixels.count == size.0 * size.1 * 4)
        #expect(c[0, 0].a == 255)
    }

    @Test("quoted text is drawn in the centre; without quotes the centre stays text-free")
    func textIsDrawn() throws {
        let text = try Fixtures.renderer
        func brightInCentre(_ prompt: String) -> Int {
            let c = PreviewArtwork.render(
                prompt: prompt, seed: 3, width: 400, height: 300,
                references: [], fingerprint: "", text: text)
            var count = 0
            for y in 100..<200 {
                for x in 100..<300 {
                    let p = c[x, y]
                    if Int(p.r) + Int(p.g) + Int(p.b) > 690 { count += 1 }
                }
            }
            return count
        }
        #expect(brightInCentre("a sign saying 'WWWW' in neon") > 2_000)
        #expect(brightInCentre("a sign saying WWWW in neon") == 0)
    }

    @Test("references are blended into the background")
    func references() throws {
        let text = try Fixtures.renderer
        let red = Canvas(width: 10, height: 10, fill: RGBA(r: 255, g: 0, b: 0))
        let none = PreviewArtwork.render(
            prompt: "p", seed: 1, width: 200, height: 100,
            references: [], fingerprint: "", text: text)
        let withRef = PreviewArtwork.render(
            prompt: "p", seed: 1, width: 200, height: 100,
            references: [red], fingerprint: "", text: text)
        #expect(withRef[20, 20].r > none[20, 20].r)
    }

    @Test("TextRenderer.draw changes pixels only around the text")
    func drawPixels() throws {
        let text = try Fixtures.renderer
        var c = Canvas(width: 200, height: 80, fill: .black)
        text.draw("Hi ✓ 東", pixelSize: 40, into: &c, x: 10, baselineY: 55, color: .white)
        let lit = stride(from: 0, to: c.pixels.count, by: 4).filter { c.pixels[$0] > 128 }.count
        #expect(lit > 200)
        #expect(c[199, 0] == .black && c[5, 79] == .black)
        // Drawing off-canvas must not crash.
        text.draw("clipped", pixelSize: 60, into: &c, x: -500, baselineY: -300, color: .white)
        text.draw("clipped", pixelSize: 60, into: &c, x: 190, baselineY: 100, color: .white)
    }

    @Test("measure scales with size and fitLines wraps to fit")
    func measureAndFit() throws {
        let text = try Fixtures.renderer
        let small = text.measure("Hello", pixelSize: 20), big = text.measure("Hello", pixelSize: 40)
        #expect(big.width > small.width * 3 / 2 && big.ascent > small.ascent && small.height >= small.ascent)
        #expect(text.measure("", pixelSize: 20).width == 0)
        let fit = text.fitLines(
            "the quick brown fox jumps over the lazy dog", maxWidth: 200, maxHeight: 200,
            maxPixelSize: 100)
        #expect(fit.lines.count > 1 && fit.pixelSize > 5)
        for line in fit.lines { #expect(text.measure(line, pixelSize: fit.pixelSize).width <= 200) }
        #expect(fit.lines.count * text.measure("", pixelSize: fit.pixelSize).height <= 200)
        #expect(text.fitLines("a\nb", maxWidth: 1000, maxHeight: 1000, maxPixelSize: 50).lines == ["a", "b"])
    }

    @Test("a missing font throws fontUnavailable")
    func missingFont() {
        #expect(throws: ImagingError.self) { try TextRenderer(fontPath: "/nonexistent/font.ttf") }
    }

    @Test("one renderer is safe to share across concurrent tasks")
    func concurrentUse() async throws {
        let text = try Fixtures.renderer
        let expected = PreviewArtwork.render(
            prompt: "'Shared'", seed: 9, width: 160, height: 120,
            references: [], fingerprint: "", text: text)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    PreviewArtwork.render(
                        prompt: "'Shared'", seed: 9, width: 160, height: 120,
                        references: [], fingerprint: "", text: text) == expected
                }
            }
            for try await same in group { #expect(same) }
        }
    }
}
