import Foundation
import Imaging
import NIOPosix
import NanoBananaAPI
import Testing

@testable import Engines

@Suite("Preview engine")
struct PreviewEngineTests {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()

    func engine(blocked: [String] = []) throws -> PreviewEngine {
        try PreviewEngine(configuration: .init(blockedWords: blocked), threadPool: Self.pool)
    }

    func request(_ parameters: NanoBanana2Parameters) -> GenerationRequest {
        GenerationRequest(requestID: "r", model: "nano-banana-2", parameters: parameters)
    }

    @Test(
        "output has exactly the table size in the requested format",
        arguments: [
            (AspectRatio.square, OutputResolution.px512, OutputFormat.jpg),
            (.landscape16x9, .px512, .png),
            (.portrait1x8, .px512, .jpg),
            (.landscape21x9, .oneK, .jpg),
        ])
    func exactSize(ratio: AspectRatio, resolution: OutputResolution, format: OutputFormat) async throws {
        let parameters = NanoBanana2Parameters(
            prompt: "a 'sign'", aspectRatio: ratio, outputFormat: format, outputResolution: resolution)
        let image = try await engine().generate(request(parameters))
        let expected = ImageDimensions.forRatio(ratio, resolution: resolution)
        #expect(image.width == expected.width && image.height == expected.height)
        #expect(image.format == format)
        #expect(ImageFormat.sniff(image.bytes) == (format == .png ? .png : .jpeg))
        let decoded = try ImageCodec.decode(image.bytes)
        #expect(decoded.width == expected.width && decoded.height == expected.height)
    }

    @Test("fourteen large references are decoded within the pixel budget, six of them, one at a time")
    func referenceBudget() throws {
        // One colour, 3000 × 3000: a small file that declares nine million pixels.
        let large = try ImageCodec.encodePNG(Canvas(width: 3000, height: 3000, fill: RGBA(r: 9, g: 9, b: 9, a: 255)))
        #expect(large.count < 200_000)
        let loaded = Array(repeating: (mediaType: "image/png", bytes: large), count: 14)
        let canvases = try PreviewEngine.decode(loaded)
        #expect(canvases.count == PreviewArtwork.maxReferences)
        for canvas in canvases {
            #expect(canvas.width * canvas.height <= PreviewEngine.referencePixelBudget)
            #expect(canvas.width == canvas.height)
        }
        // A damaged reference past the sixth still fails the job, naming it.
        var damaged = loaded
        damaged[10].bytes = Array(large.prefix(12))
        #expect(throws: EngineFailure.self) { try PreviewEngine.decode(damaged) }
    }

    @Test("blocked words fail the job as a content block, whole words only, any case")
    func blockList() async throws {
        let engine = try engine(blocked: ["Forbidden", "red panda"])
        await #expect(throws: EngineFailure.self) {
            try await engine.generate(request(NanoBanana2Parameters(prompt: "a FORBIDDEN sign")))
        }
        await #expect(throws: EngineFailure.self) {
            try await engine.generate(request(NanoBanana2Parameters(prompt: "a red  panda? no: a red panda!")))
        }
        let allowed = try await engine.generate(
            request(NanoBanana2Parameters(prompt: "unforbiddenness", outputResolution: .px512)))
        #expect(allowed.width == 512)
        #expect(BlockList(["forbidden"]).firstMatch(in: "the Forbidden, city") == "forbidden")
        #expect(BlockList(["forbidden"]).firstMatch(in: "forbiddenly") == nil)
    }

    @Test("TEXT_AND_IMAGE returns a caption naming the lettering; IMAGE returns none")
    func caption() async throws {
        let withText = try await engine().generate(
            request(NanoBanana2Parameters(prompt: "a sign reading 'MEXITALY'", outputResolution: .px512)))
        #expect(withText.text?.contains("MEXITALY") == true)
        let imageOnly = try await engine().generate(
            request(NanoBanana2Parameters(prompt: "x", outputResolution: .px512, responseModalities: .image)))
        #expect(imageOnly.text == nil)
    }

    @Test("auto takes the ratio of the first reference image, which is composited")
    func autoRatio() async throws {
        let reference = try ImageCodec.encodePNG(Canvas(width: 160, height: 90, fill: RGBA(r: 255, g: 0, b: 0)))
        let dataURL = "data:image/png;base64," + Data(reference).base64EncodedString()
        let parameters = NanoBanana2Parameters(
            prompt: "x", imageURLs: [dataURL], aspectRatio: .auto, outputFormat: .png, outputResolution: .px512)
        let image = try await engine().generate(request(parameters))
        #expect(image.width == 688 && image.height == 384)
        let without = try await engine().generate(
            request(
                NanoBanana2Parameters(prompt: "x", aspectRatio: .auto, outputFormat: .png, outputResolution: .px512)))
        #expect(without.width == 512 && without.height == 512)
    }

    @Test("a corrupt reference image fails cleanly with a clear error")
    func corruptReference() async throws {
        var bytes = try ImageCodec.encodeJPEG(Canvas(width: 64, height: 64, fill: .white))
        bytes = Array(bytes.prefix(bytes.count / 2)) + [UInt8](repeating: 0x42, count: 200)
        let parameters = NanoBanana2Parameters(
            prompt: "x", imageURLs: ["data:image/jpeg;base64," + Data(bytes).base64EncodedString()],
            outputResolution: .px512)
        do {
            _ = try await engine().generate(request(parameters))
            Issue.record("a corrupt reference must fail")
        } catch let failure as EngineFailure {
            guard case .invalidReference(let index, _) = failure else {
                Issue.record("unexpected failure \(failure)")
                return
            }
            #expect(index == 0)
            #expect(failure.description.contains("image_urls[0]"))
        }
    }

    @Test("the null engine returns its fixed image in the requested format")
    func nullEngine() async throws {
        let engine = try NullEngine()
        let jpeg = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
        let png = try await engine.generate(request(NanoBanana2Parameters(prompt: "x", outputFormat: .png)))
        #expect(ImageFormat.sniff(jpeg.bytes) == .jpeg)
        #expect(ImageFormat.sniff(png.bytes) == .png)
    }
}
