/// Offline, deterministic renderer for the text-to-image "preview engine".
///
/// Output depends only on its inputs: a SplitMix64 generator is seeded from a 64-bit FNV-1a
/// hash of (seed, fingerprint, prompt) — never Swift's per-process randomly seeded `Hasher`.
public struct PreviewArtwork: Sendable {
    /// Largest accepted side; larger requests are clamped (a 16384² canvas is already 1 GiB).
    public static let maxSide = 16384

    /// Renders a `width` × `height` preview (each side clamped to `1...maxSide`).
    ///
    /// - Background: seed-driven three-stop gradient with soft glows, bokeh discs, light bands
    ///   and a vignette.
    /// - `references`: up to 6 images, each scaled-to-fill a strip along the longer axis and
    ///   blended at 50 % over the background.
    /// - Text: every quoted phrase (see ``quotedStrings(in:)``) is drawn stacked and centred
    ///   within 8 % margins, light fill with a dark outline and soft shadow. Without quotes, a
    ///   small caption of the prompt's first six words is drawn at the bottom-left instead.
    public static func render(
        prompt: String, seed: Int64, width: Int, height: Int,
        references: [Canvas], fingerprint: String, text: TextRenderer
    ) -> Canvas {
        let w = min(maxSide, max(1, width)), h = min(maxSide, max(1, height))
        var hash = FNV1a64()
        hash.add(seed)
        hash.add(fingerprint)
        hash.add(prompt)
        var rng = SplitMix64(seed: hash.value)
        let palette = Palette(rng: &rng)
        var canvas = Canvas(width: w, height: h)  // every pixel is painted below
        paintBackground(&canvas, palette: palette, rng: &rng)
        compositeReferences(references, into: &canvas)

        let minDim = min(w, h)
        let quotes = quotedStrings(in: prompt)
        if quotes.isEmpty {
            let words = prompt.split(whereSeparator: { $0.isWhitespace })
            guard !words.isEmpty else { return canvas }
            let caption = words.prefix(6).joined(separator: " ") + (words.count > 6 ? " …" : "")
            let margin = max(4, minDim * 4 / 100)
            let size = max(9, minDim * 28 / 1000)
            let fit = text.fitLines(
                caption, maxWidth: w - 2 * margin, maxHeight: size * 3,
                maxPixelSize: size)
            let lines = fit.lines.map { OverlayLine(text: $0, size: fit.pixelSize, group: 0) }
            drawTextBlock(
                lines, renderer: text, into: &canvas, palette: palette,
                centre: false, margin: margin, opacity: 0.8)
        } else {
            let marginX = max(4, w * 8 / 100), marginY = max(4, h * 8 / 100)
            let lines = layoutQuotes(quotes, renderer: text, availW: w - 2 * marginX, availH: h - 2 * marginY)
            drawTextBlock(
                lines, renderer: text, into: &canvas, palette: palette,
                centre: true, margin: 0, opacity: 1)
        }
        return canvas
    }

    /// The most references blended into the artwork.
    public static let maxReferences = 6

    /// Blends up to ``maxReferences`` references as equal strips along the canvas's longer axis.
    static func compositeReferences(_ references: [Canvas], into canvas: inout Canvas) {
        let refs = references.filter { $0.width > 0 && $0.height > 0 }.prefix(maxReferences)
        guard !refs.isEmpty else { return }
        let horizontal = canvas.width >= canvas.height
        let length = horizontal ? canvas.width : canvas.height
        for (i, ref) in refs.enumerated() {
            let start = length * i / refs.count, end = length * (i + 1) / refs.count
            guard end > start else { continue }
            if horizontal {
                let tile = ref.scaled(toFillWidth: end - start, height: canvas.height)
                canvas.composite(tile, at: start, y: 0, opacity: 0.5)
            } else {
                let tile = ref.scaled(toFillWidth: canvas.width, height: end - start)
                canvas.composite(tile, at: 0, y: start, opacity: 0.5)
            }
        }
    }
}
