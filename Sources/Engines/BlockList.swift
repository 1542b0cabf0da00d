/// Case-insensitive, whole-word matching of blocked terms in a prompt. A term may have
/// several words ("red panda"); it matches only where it is not part of a longer word.
struct BlockList {
    private let terms: [String]

    init(_ terms: [String]) {
        self.terms = terms.map { $0.trimmingWhitespace().lowercased() }.filter { !$0.isEmpty }
    }

    /// The first term found in `prompt`, as configured.
    func firstMatch(in prompt: String) -> String? {
        guard !terms.isEmpty else { return nil }
        let haystack = Array(prompt.lowercased())
        for term in terms {
            let needle = Array(term)
            guard needle.count <= haystack.count else { continue }
            for start in 0...(haystack.count - needle.count)
            where haystack[start..<start + needle.count].elementsEqual(needle) {
                let before = start == 0 ? nil : haystack[start - 1]
                let afterIndex = start + needle.count
                let after = afterIndex < haystack.count ? haystack[afterIndex] : nil
                if !(before?.isWordCharacter ?? false) && !(after?.isWordCharacter ?? false) {
                    return term
                }
            }
        }
        return nil
    }
}

extension Character {
    fileprivate var isWordCharacter: Bool { isLetter || isNumber || self == "_" }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
