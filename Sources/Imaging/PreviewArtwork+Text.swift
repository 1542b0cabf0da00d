/// One line of overlay text and the group (quoted phrase) it belongs to.
struct OverlayLine {
    var text: String
    var size: Int
    var group: Int
}

extension PreviewArtwork {
    /// Sizes each quoted phrase to fill `availW` on its own line (long phrases wrap), keeps the
    /// largest at most 1.6× the smallest so they read as one composition, then shrinks all
    /// sizes together until the stack fits `availH`.
    static func layoutQuotes(
        _ quotes: [String], renderer: TextRenderer,
        availW: Int, availH: Int
    ) -> [OverlayLine] {
        let cap = max(1, min(TextRenderer.maxPixelSize, availH * 34 / 100))
        var lines: [OverlayLine] = []
        for (g, q) in quotes.enumerated() {
            let ref = renderer.measure(q, pixelSize: 100).width
            let single = ref > 0 ? min(cap, availW * 97 / ref) : cap
            if q.contains(" ") && single < cap / 2 {
                let fit = renderer.fitLines(
                    q, maxWidth: availW, maxHeight: max(1, availH / quotes.count),
                    maxPixelSize: cap)
                lines += fit.lines.map { OverlayLine(text: $0, size: fit.pixelSize, group: g) }
            } else {
                lines.append(OverlayLine(text: q, size: max(1, single), group: g))
            }
        }
        guard let smallest = lines.map(\.size).min() else { return [] }
        let ceiling = max(1, smallest * 16 / 10)
        for i in lines.indices {
            lines[i].size = min(lines[i].size, ceiling)
            while lines[i].size > 1 && renderer.measure(lines[i].text, pixelSize: lines[i].size).width > availW {
                lines[i].size -= max(1, lines[i].size / 50)
            }
        }
        for _ in 0..<12 {
            let total = blockHeight(lines, renderer: renderer)
            guard total > availH else { break }
            let k = Double(availH) / Double(total) * 0.98
            for i in lines.indices { lines[i].size = max(1, Int(Double(lines[i].size) * k)) }
        }
        return lines
    }

    /// Stack height: each line's ascent + descent, plus 30 % of the size between groups.
    static func blockHeight(_ lines: [OverlayLine], renderer: TextRenderer) -> Int {
        var total = 0
        for (i, line) in lines.enumerated() {
            total += renderer.measure("", pixelSize: line.size).height
            if i > 0 && lines[i - 1].group != line.group { total += line.size * 3 / 10 }
        }
        return total
    }

    /// Draws lines as one block with a soft drop shadow, a dark rounded outline and a light
    /// fill. `centre` places the block in the middle of the canvas; otherwise bottom-left at
    /// `margin`. Cost is proportional to the block's area.
    static func drawTextBlock(
        _ lines: [OverlayLine], renderer: TextRenderer, into canvas: inout Canvas,
        palette: Palette, centre: Bool, margin: Int, opacity: Double
    ) {
        guard let smallest = lines.map(\.size).min() else { return }
        let outlineR = max(1, smallest / 16)
        let shadowR = max(2, smallest / 10)
        let shadowDX = max(1, smallest / 24), shadowDY = max(1, smallest / 14)
        let pad = outlineR + 2 * shadowR + max(shadowDX, shadowDY) + 2
        let widths = lines.map { renderer.measure($0.text, pixelSize: $0.size).width }
        let maskW = (widths.max() ?? 0) + 2 * pad
        let maskH = blockHeight(lines, renderer: renderer) + 2 * pad
        var placed: [(text: String, pixelSize: Int, baseline: Int)] = []
        var y = pad
        for (i, line) in lines.enumerated() {
            if i > 0 && lines[i - 1].group != line.group { y += line.size * 3 / 10 }
            let m = renderer.measure("", pixelSize: line.size)
            placed.append((line.text, line.size, y + m.ascent))
            y += m.height
        }
        let fill = renderer.renderMask(placed, width: maskW, height: maskH, centred: centre, inset: pad)
        let outline = MaskEffects.dilate(fill, width: maskW, height: maskH, radius: outlineR)
        let shadow = MaskEffects.boxBlur(
            MaskEffects.boxBlur(outline, width: maskW, height: maskH, radius: shadowR),
            width: maskW, height: maskH, radius: shadowR)
        let ox = centre ? (canvas.width - maskW) / 2 : margin - pad
        let oy = centre ? (canvas.height - maskH) / 2 : canvas.height - margin - maskH + pad
        let op = Int(min(1, max(0, opacity)) * 255)
        let fc = palette.textFill, oc = palette.outline
        let (cw, ch) = (canvas.width, canvas.height)
        canvas.pixels.withUnsafeMutableBufferPointer { buf in
            guard let base = buf.baseAddress else { return }
            for my in max(0, -oy)..<max(max(0, -oy), min(maskH, ch - oy)) {
                for mx in max(0, -ox)..<max(max(0, -ox), min(maskW, cw - ox)) {
                    let p = base + ((oy + my) * cw + ox + mx) * 4
                    let sx = mx - shadowDX, sy = my - shadowDY
                    if sx >= 0 && sy >= 0 {
                        let s = Int(shadow[sy * maskW + sx])
                        if s > 0 { blendPixel(p, 0, 0, 0, s * op * 150 / (255 * 255)) }
                    }
                    let i = my * maskW + mx
                    let o = Int(outline[i])
                    if o > 0 {
                        blendPixel(p, Int(oc.x), Int(oc.y), Int(oc.z), o * op * 235 / (255 * 255))
                    }
                    let f = Int(fill[i])
                    if f > 0 { blendPixel(p, Int(fc.x), Int(fc.y), Int(fc.z), f * op / 255) }
                }
            }
        }
    }
}
