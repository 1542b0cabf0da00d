/// The parts of Google's `generateContent` REST format this engine speaks, as Codable types.
/// Field names are the API's own (camelCase JSON).

struct GeminiRequest: Encodable, Equatable {
    struct Content: Encodable, Equatable {
        var role = "user"
        var parts: [Part]
    }

    struct Part: Encodable, Equatable {
        var text: String?
        var inlineData: InlineData?
    }

    struct InlineData: Codable, Equatable {
        var mimeType: String
        var data: String
    }

    struct GenerationConfig: Encodable, Equatable {
        var responseModalities: [String]
        var imageConfig: ImageConfig
        var thinkingConfig: ThinkingConfig
        var seed: Int64
    }

    struct ImageConfig: Encodable, Equatable {
        /// Left out for `auto`: the model chooses.
        var aspectRatio: String?
        var imageSize: String
    }

    struct ThinkingConfig: Encodable, Equatable {
        var thinkingLevel: String
    }

    struct Tool: Encodable, Equatable {
        struct GoogleSearch: Encodable, Equatable {}
        var googleSearch = GoogleSearch()
    }

    struct SafetySetting: Encodable, Equatable {
        var category: String
        var threshold: String
    }

    var contents: [Content]
    var generationConfig: GenerationConfig
    var tools: [Tool]?
    var safetySettings: [SafetySetting]
}

struct GeminiResponse: Decodable {
    struct Candidate: Decodable {
        var content: Content?
        var finishReason: String?
        var finishMessage: String?
    }

    struct Content: Decodable {
        var parts: [Part]?
    }

    struct Part: Decodable {
        var text: String?
        var inlineData: GeminiRequest.InlineData?
        var thought: Bool?
    }

    struct PromptFeedback: Decodable {
        var blockReason: String?
        var blockReasonMessage: String?
    }

    struct UsageMetadata: Decodable {
        var promptTokenCount: Int?
        var candidatesTokenCount: Int?
        var thoughtsTokenCount: Int?
        var totalTokenCount: Int?
    }

    var candidates: [Candidate]?
    var promptFeedback: PromptFeedback?
    var usageMetadata: UsageMetadata?
}

/// `{"error": {"code", "message", "status"}}`.
struct GeminiErrorBody: Decodable {
    struct Detail: Decodable {
        var code: Int?
        var message: String?
        var status: String?
    }

    var error: Detail
}
