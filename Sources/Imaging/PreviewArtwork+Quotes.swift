import Foundation

extension PreviewArtwork {
    /// Extracts quoted phrases from a prompt, in order: 'single', "double", ‘typographic’
    /// and “typographic”. A quote only opens at the start of the text or after whitespace or
    /// punctuation and must be followed by a non-space; it only closes before the end,
    /// whitespace or punctuation. So apostrophes in "don't" or "Via de' Tornabuoni" are ignored.
    /// Contents are trimmed; empty quotes are dropped.
    public static func quotedStrings(in prompt: String) -> [String] {
        let chars = Array(prompt)
        var result: [String] = []
        var i = 0
        while i < chars.count {
            guard let closers = quoteClosers[chars[i]], opensQuote(chars, at: i),
                let j = closingIndex(chars, from: i + 1, closers: closers)
            else {
                i += 1
                continue
            }
            let content = String(chars[(i + 1)..<j]).trimmingCharacters(in: .whitespacesAndNewlines)
            if !content.isEmpty {
                result.append(content)
            }
            i = j + 1
        }
        return result
    }

    /// Opening quote characters mapped to the characters that may close them.
    private static let quoteClosers: [Character: Set<Character>] = [
        "'": ["'", "\u{2019}"],
        "\"": ["\"", "\u{201D}"],
        "\u{2018}": ["\u{2019}", "'"],
        "\u{201C}": ["\u{201D}", "\""],
    ]

    private static func isBoundary(_ c: Character) -> Bool {
        c.isWhitespace || c.isPunctuation || c.isSymbol
    }

    private static func opensQuote(_ chars: [Character], at i: Int) -> Bool {
        guard i + 1 < chars.count, !chars[i + 1].isWhitespace else { return false }
        return i == 0 || isBoundary(chars[i - 1])
    }

    private static func closingIndex(
        _ chars: [Character], from start: Int,
        closers: Set<Character>
    ) -> Int? {
        var j = start
        while j < chars.count {
            if closers.contains(chars[j]), j > start, !chars[j - 1].isWhitespace,
                j + 1 == chars.count || isBoundary(chars[j + 1])
            {
                return j
            }
            j += 1
        }
        return nil
    }
}
