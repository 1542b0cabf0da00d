import Foundation

extension NanoBanana2Parameters {
    /// Parses and validates an untrusted JSON request body.
    ///
    /// Every field is checked for type and range; unknown and repeated fields are refused;
    /// `null` means "use the default" for optional fields.
    public static func validated(fromJSON body: some Collection<UInt8>) throws(ParameterError) -> Self {
        guard case .object(let object) = try JSONValue(parsing: body) else { throw .notAnObject }
        return try validated(from: object)
    }

    /// Validates an already-decoded JSON object.
    public static func validated(from object: [String: JSONValue]) throws(ParameterError) -> Self {
        for name in object.keys.sorted() where !fieldNames.contains(name) {
            throw .unknownField(name)
        }
        let fields = FieldReader(object: object)
        guard let prompt = try fields.string("prompt") else { throw .missing(field: "prompt") }
        try checkPromptSize(prompt)
        // Scalar by scalar (Unicode's White_Space), as the document's pattern says: a space
        // carrying a combining mark is not empty.
        guard !prompt.unicodeScalars.allSatisfy(\.properties.isWhitespace) else { throw .empty(field: "prompt") }

        var parameters = NanoBanana2Parameters(prompt: prompt)
        if let seed = try fields.integer("seed", in: Int64(Int32.min)...Int64(Int32.max)) {
            parameters.seed = seed
        }
        if let urls = try fields.stringArray("image_urls") {
            guard urls.count <= maxReferenceImages else {
                throw .tooMany(field: "image_urls", limit: maxReferenceImages)
            }
            for (index, url) in urls.enumerated() {
                do {
                    _ = try ReferenceImageSource(parsing: url)
                } catch {
                    throw .invalidImageURL(index: index, reason: error.reason)
                }
            }
            parameters.imageURLs = urls
        }
        if let webSearch = try fields.bool("web_search") { parameters.webSearch = webSearch }
        if let ratio: AspectRatio = try fields.choice("aspect_ratio") { parameters.aspectRatio = ratio }
        if let format: OutputFormat = try fields.choice("output_format") { parameters.outputFormat = format }
        if let level: ThinkingLevel = try fields.choice("thinking_level") { parameters.thinkingLevel = level }
        if let tolerance = try fields.integer("safety_tolerance", in: 1...6) {
            parameters.safetyTolerance = Int(tolerance)
        }
        if let resolution: OutputResolution = try fields.choice("output_resolution") {
            parameters.outputResolution = resolution
        }
        if let modalities: ResponseModalities = try fields.choice("response_modalities") {
            parameters.responseModalities = modalities
        }
        return parameters
    }
}

extension NanoBanana2Parameters {
    /// The prompt's length in Unicode scalars. A scalar takes at most 4 bytes of UTF-8, so a
    /// longer prompt is refused before anything walks it.
    static func checkPromptSize(_ prompt: String) throws(ParameterError) {
        guard prompt.utf8.count <= maxPromptLength * 4, prompt.unicodeScalars.count <= maxPromptLength else {
            throw .tooLong(field: "prompt", limit: maxPromptLength)
        }
    }
}

/// Reads typed fields out of a JSON object, turning mismatches into ``ParameterError``s.
private struct FieldReader {
    let object: [String: JSONValue]

    private func value(_ field: String) -> JSONValue? {
        guard let value = object[field], value != .null else { return nil }
        return value
    }

    func string(_ field: String) throws(ParameterError) -> String? {
        guard let value = value(field) else { return nil }
        guard case .string(let string) = value else {
            throw .wrongType(field: field, expected: "a string", got: value.typeDescription)
        }
        return string
    }

    func bool(_ field: String) throws(ParameterError) -> Bool? {
        guard let value = value(field) else { return nil }
        guard case .bool(let bool) = value else {
            throw .wrongType(field: field, expected: "a boolean (true or false)", got: value.typeDescription)
        }
        return bool
    }

    func integer(_ field: String, in range: ClosedRange<Int64>) throws(ParameterError) -> Int64? {
        guard let value = value(field) else { return nil }
        let integer: Int64
        switch value {
        case .integer(let int):
            integer = int
        case .double(let double) where double.rounded() == double && abs(double) < 9e15:
            integer = Int64(double)
        default:
            throw .wrongType(field: field, expected: "an integer", got: value.typeDescription)
        }
        guard range.contains(integer) else {
            throw .outOfRange(field: field, value: String(integer), range: "\(range.lowerBound)…\(range.upperBound)")
        }
        return integer
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ field: String) throws(ParameterError) -> Choice?
    where Choice.RawValue == String {
        guard let string = try string(field) else { return nil }
        guard let choice = Choice(rawValue: string) else {
            throw .notAllowed(field: field, value: string, allowed: Choice.allCases.map(\.rawValue))
        }
        return choice
    }

    func stringArray(_ field: String) throws(ParameterError) -> [String]? {
        guard let value = value(field) else { return nil }
        guard case .array(let elements) = value else {
            throw .wrongType(field: field, expected: "an array of strings", got: value.typeDescription)
        }
        var strings: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let string) = element else {
                throw .wrongType(field: "\(field)[\(index)]", expected: "a string", got: element.typeDescription)
            }
            strings.append(string)
        }
        return strings
    }
}
