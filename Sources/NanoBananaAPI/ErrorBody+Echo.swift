extension ErrorBody {
    /// The most characters of a client's own text (a field name, a value) an error quotes
    /// back.
    public static let echoLimit = 64

    /// `text` as an error quotes it: whole up to ``echoLimit`` characters, else cut there
    /// with "…", so a 5 MB field name is not sent back whole.
    public static func echo(_ text: some StringProtocol) -> String {
        let cut = text.prefix(echoLimit)
        return cut.endIndex == text.endIndex ? String(text) : cut + "…"
    }
}
