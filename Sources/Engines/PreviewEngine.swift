import Foundation
import Imaging
import NIOPosix
import NanoBananaAPI

/// The offline, deterministic engine: a real image of exactly the requested size and
/// format, with the prompt's quoted text drawn legibly over a seed-driven background and
/// `data:` reference images composited in. The same prompt, seed and parameters always give
/// the same bytes.
///
/// Rendering and encoding run on a dedicated thread pool, never on the server's event loops
/// or the cooperative pool that serves requests.
///
/// Cancellation ends the latency pause and reference downloads with `CancellationError`,
/// and a cancelled job is not rendered; a render already on the thread pool (bounded CPU
/// work, well under a second) runs to its end.
public struct PreviewEngine: ImageEngine {
    public struct Configuration: Sendable {
        /// Words that make a job FAIL with a content block (case-insensitive, whole words),
        /// so clients can test their failure path.
        public var blockedWords: [String]
        /// A pause before rendering, so clients can test their polling.
        public var latency: Duration
        /// The TrueType font used for the prompt's quoted text.
        public var fontPath: String
        /// JPEG quality, 1…100.
        public var jpegQuality: Int

        public init(
            blockedWords: [String] = [], latency: Duration = .zero,
            fontPath: String = TextRenderer.defaultFontPath, jpegQuality: Int = 90
        ) {
            self.blockedWords = blockedWords
            self.latency = latency
            self.fontPath = fontPath
            self.jpegQuality = jpegQuality
        }
    }

    public let name = "preview"
    private let configuration: Configuration
    private let text: TextRenderer
    private let threadPool: NIOThreadPool
    private let references: ReferenceImages

    /// - Parameters:
    ///   - threadPool: where rendering runs; started and shut down by the caller.
    ///   - references: loads `image_urls`, fetching http(s) ones when it has a fetcher.
    public init(
        configuration: Configuration, threadPool: NIOThreadPool,
        references: ReferenceImages = ReferenceImages(fetcher: nil)
    ) throws {
        self.configuration = configuration
        self.references = references
        self.text = try TextRenderer(fontPath: configuration.fontPath)
        self.threadPool = threadPool
    }

    public func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        let parameters = request.parameters
        if let word = BlockList(configuration.blockedWords).firstMatch(in: parameters.prompt) {
            throw EngineFailure.contentBlocked(
                "the prompt contains the blocked term '\(word)' (the preview engine's block list).")
        }
        if configuration.latency > .zero {
            try await Task.sleep(for: configuration.latency)
        }
        let text = self.text
        let quality = configuration.jpegQuality
        let loaded = try await references.load(parameters.imageURLs)
        try Task.checkCancellation()
        return try await threadPool.runIfActive {
            let references = try Self.decode(loaded)
            let size =
                parameters.fixedDimensions
                ?? ImageDimensions.forRatio(
                    references.first.map { ImageDimensions.nearestRatio(width: $0.width, height: $0.height) }
                        ?? .square,
                    resolution: parameters.outputResolution)
            let canvas = PreviewArtwork.render(
                prompt: parameters.prompt, seed: parameters.seed, width: size.width, height: size.height,
                references: references, fingerprint: Self.fingerprint(parameters), text: text)
            let bytes =
                switch parameters.outputFormat {
                case .jpg: try ImageCodec.encodeJPEG(canvas, quality: quality)
                // Fast zlib settings: ~8× quicker than the default at ~1.5× the size, still lossless.
                case .png: try ImageCodec.encodePNG(canvas, fast: true)
                }
            return GeneratedImage(
                bytes: bytes, format: parameters.outputFormat, width: size.width, height: size.height,
                text: parameters.responseModalities == .textAndImage ? Self.caption(parameters, size: size) : nil)
        }
    }

    /// The most pixels a decoded reference keeps (2048 × 2048): the artwork blends at most
    /// ``PreviewArtwork/maxReferences`` of them as strips of the output, which this covers.
    static let referencePixelBudget = 2048 * 2048

    /// Decodes the references the artwork uses, each scaled into ``referencePixelBudget``
    /// while it is decoded, one at a time: a job holds at most one full-size image (40
    /// million pixels, 160 MB) beside the small ones, whatever its fourteen references
    /// declare. References past those used are checked by their headers only. WebP is
    /// accepted but not decoded here (no WebP codec), so it is skipped.
    static func decode(_ references: [(mediaType: String, bytes: [UInt8])]) throws -> [Canvas] {
        var canvases: [Canvas] = []
        for (index, reference) in references.enumerated() {
            let bytes = reference.bytes
            if ImageFormat.sniff(bytes) == .webp { continue }
            do {
                guard canvases.count < PreviewArtwork.maxReferences else {
                    guard let size = ImageCodec.dimensions(of: bytes) else { throw ImagingError.corrupt("bad header") }
                    guard size.width * size.height <= ImageCodec.maxDecodedPixels else {
                        throw ImagingError.tooLarge(width: size.width, height: size.height)
                    }
                    continue
                }
                canvases.append(try ImageCodec.decode(bytes, fittingIn: referencePixelBudget))
            } catch {
                throw EngineFailure.invalidReference(index: index, reason: "\(error)")
            }
        }
        return canvases
    }

    /// The parameters that shape the picture (not its encoding), mixed into its randomness.
    static func fingerprint(_ parameters: NanoBanana2Parameters) -> String {
        [
            parameters.aspectRatio.rawValue, parameters.outputResolution.rawValue, parameters.thinkingLevel.rawValue,
            String(parameters.safetyTolerance), String(parameters.webSearch), String(parameters.imageURLs.count),
        ].joined(separator: "|")
    }

    static func caption(_ parameters: NanoBanana2Parameters, size: ImageDimensions) -> String {
        let quoted = PreviewArtwork.quotedStrings(in: parameters.prompt)
        var caption = "Preview render at \(size.width)×\(size.height), seed \(parameters.seed)."
        if !quoted.isEmpty {
            caption += " Lettering: " + quoted.map { "“\($0)”" }.joined(separator: ", ") + "."
        }
        return caption
    }
}
