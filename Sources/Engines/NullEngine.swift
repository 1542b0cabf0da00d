import Imaging
import NanoBananaAPI

/// An engine that costs nothing: it returns one fixed 64×64 image at once. It isolates the
/// gateway's own overhead in benchmarks; it never pretends to follow the parameters. It
/// never waits, so there is nothing for cancellation to interrupt.
public struct NullEngine: ImageEngine {
    public let name = "null"
    private let jpeg: [UInt8]
    private let png: [UInt8]
    static let side = 64

    public init() throws {
        let canvas = Canvas(width: Self.side, height: Self.side, fill: RGBA(r: 240, g: 200, b: 40, a: 255))
        jpeg = try ImageCodec.encodeJPEG(canvas, quality: 80)
        png = try ImageCodec.encodePNG(canvas)
    }

    public func generate(_ request: GenerationRequest) async throws -> GeneratedImage {
        let format = request.parameters.outputFormat
        return GeneratedImage(
            bytes: format == .png ? png : jpeg, format: format, width: Self.side, height: Self.side,
            text: request.parameters.responseModalities == .textAndImage ? "null engine" : nil)
    }
}
