/// The parameters of the `nano-banana-2` model, with the defaults of the public API page.
///
/// Encodes to and decodes from the wire's snake_case JSON. Use
/// ``NanoBanana2Parameters/validated(from:)`` for untrusted input: it names the exact field
/// that is wrong.
public struct NanoBanana2Parameters: Sendable, Equatable, Hashable, Codable {
    /// The slug of this model on the wire.
    public static let modelSlug = "nano-banana-2"
    /// The longest prompt accepted, in characters counted as Unicode scalars (code points),
    /// as JSON Schema's `maxLength` counts them: the OpenAPI document says exactly this. A
    /// letter carrying two million combining marks is two million characters, not one (it
    /// costs a renderer, and the upstream's token bill, as much as two million letters).
    public static let maxPromptLength = 20_000
    /// The most reference images one request may carry.
    public static let maxReferenceImages = 14
    /// The default seed of the public API page.
    public static let defaultSeed: Int64 = 420_875

    public var prompt: String
    public var seed: Int64
    public var imageURLs: [String]
    public var webSearch: Bool
    public var aspectRatio: AspectRatio
    public var outputFormat: OutputFormat
    public var thinkingLevel: ThinkingLevel
    public var safetyTolerance: Int
    public var outputResolution: OutputResolution
    public var responseModalities: ResponseModalities

    public init(
        prompt: String,
        seed: Int64 = Self.defaultSeed,
        imageURLs: [String] = [],
        webSearch: Bool = false,
        aspectRatio: AspectRatio = .square,
        outputFormat: OutputFormat = .jpg,
        thinkingLevel: ThinkingLevel = .minimal,
        safetyTolerance: Int = 4,
        outputResolution: OutputResolution = .oneK,
        responseModalities: ResponseModalities = .textAndImage
    ) {
        self.prompt = prompt
        self.seed = seed
        self.imageURLs = imageURLs
        self.webSearch = webSearch
        self.aspectRatio = aspectRatio
        self.outputFormat = outputFormat
        self.thinkingLevel = thinkingLevel
        self.safetyTolerance = safetyTolerance
        self.outputResolution = outputResolution
        self.responseModalities = responseModalities
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prompt
        case seed
        case imageURLs = "image_urls"
        case webSearch = "web_search"
        case aspectRatio = "aspect_ratio"
        case outputFormat = "output_format"
        case thinkingLevel = "thinking_level"
        case safetyTolerance = "safety_tolerance"
        case outputResolution = "output_resolution"
        case responseModalities = "response_modalities"
    }

    /// The wire names of every accepted field, in the order of the public API page.
    public static let fieldNames: [String] = CodingKeys.allCases.map(\.rawValue)

    /// The output size when the ratio is concrete; `nil` for `auto` (the engine decides).
    public var fixedDimensions: ImageDimensions? {
        aspectRatio == .auto ? nil : ImageDimensions.forRatio(aspectRatio, resolution: outputResolution)
    }
}
