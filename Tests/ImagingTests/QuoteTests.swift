import Imaging
import Testing

@Suite("PreviewArtwork.quotedStrings")
struct QuoteTests {
    @Test("the MEXITALY prompt yields its four quoted names and ignores de'")
    func mexitaly() {
        #expect(
            PreviewArtwork.quotedStrings(in: Fixtures.mexitalyPrompt)
                == ["MEXITALY", "TORNABUONI", "Strada64", "BarandRestaurant"])
    }

    @Test("single, double and typographic quotes are all recognised in order")
    func quoteKinds() {
        let prompt = "a 'one' b \"two words\" c \u{2018}three\u{2019} d \u{201C}four\u{201D}."
        #expect(PreviewArtwork.quotedStrings(in: prompt) == ["one", "two words", "three", "four"])
    }

    @Test("apostrophes inside words never open a quote")
    func apostrophes() {
        #expect(PreviewArtwork.quotedStrings(in: "don't stop, it's Via de' Tornabuoni") == [])
        #expect(PreviewArtwork.quotedStrings(in: "the students' books and 'Hi'") == ["Hi"])
        #expect(PreviewArtwork.quotedStrings(in: "say 'I don't know' loudly") == ["I don't know"])
        #expect(PreviewArtwork.quotedStrings(in: "rock 'n' roll") == ["n"])
    }

    @Test("quotes at the edges, next to punctuation, empty or unterminated")
    func edges() {
        #expect(PreviewArtwork.quotedStrings(in: "'Start' and end \"Fin\"") == ["Start", "Fin"])
        #expect(PreviewArtwork.quotedStrings(in: "(\"paren\"), [\u{201C}brack\u{201D}]") == ["paren", "brack"])
        #expect(PreviewArtwork.quotedStrings(in: "empty '' and \"\" here") == [])
        #expect(PreviewArtwork.quotedStrings(in: "unterminated 'oops and more") == [])
        #expect(PreviewArtwork.quotedStrings(in: "a ' spaced ' b") == [])
        #expect(PreviewArtwork.quotedStrings(in: "") == [])
        #expect(PreviewArtwork.quotedStrings(in: "mixed \u{201C}curly\" ok") == ["curly"])
        #expect(PreviewArtwork.quotedStrings(in: "emoji '🍕 Pizza ✓' ok") == ["🍕 Pizza ✓"])
    }
}
