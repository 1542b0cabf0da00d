extension TextRenderer {
    /// Word-wraps `text` (explicit `"\n"` are hard breaks) and picks the largest pixel size
    /// in `1...maxPixelSize` at which every line fits `maxWidth` and the stacked lines
    /// (line height = ascent + descent) fit `maxHeight`.
    ///
    /// If nothing fits even at 1 px, returns the wrap at 1 px (overflowing) so callers
    /// always get lines to draw. Empty text yields `([], maxPixelSize)`.
    public func fitLines(
        _ text: String, maxWidth: Int, maxHeight: Int,
        maxPixelSize: Int
    ) -> (lines: [String], pixelSize: Int) {
        let paragraphs = text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.split(whereSeparator: { $0.isWhitespace }).map(String.init) }
            .filter { !$0.isEmpty }
        let top = max(1, min(maxPixelSize, Self.maxPixelSize))
        guard !paragraphs.isEmpty else { return ([], top) }
        var lo = 1, hi = top
        var best: (lines: [String], pixelSize: Int)?
        while lo <= hi {
            let mid = (lo + hi) / 2
            if let lines = wrap(paragraphs, size: mid, maxWidth: maxWidth, maxHeight: maxHeight) {
                best = (lines, mid)
                lo = mid + 1
            } else {
                hi = mid - 1
            }
        }
        return best ?? (wrap(paragraphs, size: 1, maxWidth: .max, maxHeight: .max) ?? [], 1)
    }

    /// Greedy wrap at one size; `nil` when a word or the whole block does not fit.
    private func wrap(_ paragraphs: [[String]], size: Int, maxWidth: Int, maxHeight: Int) -> [String]? {
        var lines: [String] = []
        for words in paragraphs {
            var current = ""
            for word in words {
                let candidate = current.isEmpty ? word : current + " " + word
                if measure(candidate, pixelSize: size).width <= maxWidth {
                    current = candidate
                } else {
                    guard !current.isEmpty, measure(word, pixelSize: size).width <= maxWidth else { return nil }
                    lines.append(current)
                    current = word
                }
            }
            lines.append(current)
        }
        let lineHeight = measure("", pixelSize: size).height
        return lines.count * lineHeight <= maxHeight ? lines : nil
    }

    /// Renders lines into an 8-bit coverage mask of `width` × `height`. Each line is drawn
    /// at its own pixel size with its baseline at `baseline`, centred horizontally unless
    /// `centred` is false (then it starts at x = `inset`).
    func renderMask(
        _ lines: [(text: String, pixelSize: Int, baseline: Int)], width: Int, height: Int,
        centred: Bool, inset: Int
    ) -> [UInt8] {
        var mask = [UInt8](repeating: 0, count: width * height)
        mask.withUnsafeMutableBufferPointer { m in
            for line in lines {
                let x = centred ? (width - measure(line.text, pixelSize: line.pixelSize).width) / 2 : inset
                _ = forEachGlyph(line.text, pixelSize: line.pixelSize, renderBitmaps: true) { glyph, _ in
                    guard let glyph else { return }
                    let gx = x + glyph.left, gy = line.baseline - glyph.top
                    let rows = max(0, -gy)..<max(max(0, -gy), min(glyph.rows, height - gy))
                    let cols = max(0, -gx)..<max(max(0, -gx), min(glyph.width, width - gx))
                    for row in rows {
                        let base = (gy + row) * width + gx
                        for col in cols {
                            let cov = glyph.coverage(col, row)
                            if cov > m[base + col] { m[base + col] = cov }
                        }
                    }
                }
            }
        }
        return mask
    }
}
