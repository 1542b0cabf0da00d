import Foundation
import NanoBananaAPI

extension GeminiRequest {
    /// The four harm categories Google lets a request tune.
    static let harmCategories = [
        "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    ]

    /// `safety_tolerance` 1 (strictest) … 6 (least strict) as one threshold for every
    /// category. The API page's default, 4, is Google's own default for these models.
    static func threshold(forTolerance tolerance: Int) -> String {
        switch tolerance {
        case ...1: "BLOCK_LOW_AND_ABOVE"
        case 2: "BLOCK_MEDIUM_AND_ABOVE"
        case 3, 4: "BLOCK_ONLY_HIGH"
        case 5: "BLOCK_NONE"
        default: "OFF"
        }
    }

    /// `output_resolution` as `imageSize`: note `"512"`, not `"512px"`.
    static func imageSize(for resolution: OutputResolution) -> String {
        switch resolution {
        case .px512: "512"
        case .oneK: "1K"
        case .twoK: "2K"
        case .fourK: "4K"
        }
    }

    /// The request for `parameters`, with the reference images already decoded.
    init(parameters: NanoBanana2Parameters, references: [(mediaType: String, bytes: [UInt8])]) {
        var parts = [Part(text: parameters.prompt)]
        for reference in references {
            parts.append(
                Part(
                    inlineData: InlineData(
                        mimeType: reference.mediaType, data: Data(reference.bytes).base64EncodedString())))
        }
        let threshold = Self.threshold(forTolerance: parameters.safetyTolerance)
        self.init(
            contents: [Content(parts: parts)],
            generationConfig: GenerationConfig(
                responseModalities: parameters.responseModalities == .textAndImage ? ["TEXT", "IMAGE"] : ["IMAGE"],
                imageConfig: ImageConfig(
                    aspectRatio: parameters.aspectRatio == .auto ? nil : parameters.aspectRatio.rawValue,
                    imageSize: Self.imageSize(for: parameters.outputResolution)),
                thinkingConfig: ThinkingConfig(thinkingLevel: parameters.thinkingLevel == .high ? "HIGH" : "MINIMAL"),
                seed: parameters.seed),
            tools: parameters.webSearch ? [Tool()] : nil,
            safetySettings: Self.harmCategories.map { SafetySetting(category: $0, threshold: threshold) })
    }
}
