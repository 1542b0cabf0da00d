import Foundation
import Imaging
import NanoBananaAPI

/// The image and text picked out of a `generateContent` reply, or the reason there is none.
struct GeminiReply {
    let bytes: [UInt8]
    let text: String?

    /// Finish reasons that mean the output was blocked or withheld.
    static let blockReasons: Set<String> = [
        "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
        "RECITATION", "IMAGE_RECITATION", "NO_IMAGE", "IMAGE_OTHER", "OTHER", "LANGUAGE",
    ]

    /// Takes the last image of the first candidate (preferring non-thought parts) and the
    /// non-thought text; a block, or a reply without an image, throws.
    init(_ response: GeminiResponse) throws {
        if let reason = response.promptFeedback?.blockReason {
            let detail = response.promptFeedback?.blockReasonMessage.map { " \($0)" } ?? ""
            throw EngineFailure.contentBlocked("the model blocked the prompt (\(reason)).\(detail)")
        }
        guard let candidate = response.candidates?.first else {
            throw EngineFailure.upstreamInvalidResponse("the reply had no candidates.")
        }
        let parts = candidate.content?.parts ?? []
        let images = parts.filter { $0.inlineData?.mimeType.hasPrefix("image/") == true }
        let chosen = images.last(where: { $0.thought != true }) ?? images.last
        guard let data = chosen?.inlineData?.data else {
            let reason = candidate.finishReason ?? "no image"
            if Self.blockReasons.contains(reason) {
                let detail = candidate.finishMessage.map { " \($0)" } ?? ""
                throw EngineFailure.contentBlocked("the model returned no image (\(reason)).\(detail)")
            }
            throw EngineFailure.upstreamInvalidResponse("the reply had no image (finish reason \(reason)).")
        }
        guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters), !decoded.isEmpty else {
            throw EngineFailure.upstreamInvalidResponse("the image data was not valid base64.")
        }
        bytes = [UInt8](decoded)
        let text = parts.filter { $0.thought != true }.compactMap(\.text).joined(separator: "\n")
        self.text = text.isEmpty ? nil : text
    }

    /// The image in `format`, transcoded when the bytes are something else (the API often
    /// sends JPEG labelled as PNG), with its real size.
    func image(as format: OutputFormat, jpegQuality: Int) throws -> GeneratedImage {
        let wanted: ImageFormat = format == .png ? .png : .jpeg
        guard let actual = ImageFormat.sniff(bytes) else {
            throw EngineFailure.upstreamInvalidResponse("the image bytes are neither JPEG, PNG nor WebP.")
        }
        if actual == wanted, let size = ImageCodec.dimensions(of: bytes) {
            return GeneratedImage(bytes: bytes, format: format, width: size.width, height: size.height, text: text)
        }
        let canvas: Canvas
        do {
            canvas = try ImageCodec.decode(bytes)
        } catch {
            throw EngineFailure.upstreamInvalidResponse("the \(actual.rawValue) image could not be decoded (\(error)).")
        }
        let encoded =
            format == .png
            ? try ImageCodec.encodePNG(canvas, fast: true) : try ImageCodec.encodeJPEG(canvas, quality: jpegQuality)
        return GeneratedImage(bytes: encoded, format: format, width: canvas.width, height: canvas.height, text: text)
    }
}
