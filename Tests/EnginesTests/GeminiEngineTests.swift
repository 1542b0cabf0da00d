import Foundation
import HTTPTypes
import Imaging
import NanoBananaAPI
import Testing

@testable import Engines

@Suite("Gemini engine against a fake upstream")
struct GeminiEngineTests {
    func request(_ parameters: NanoBanana2Parameters) -> GenerationRequest {
        GenerationRequest(requestID: "r", model: "nano-banana-2", parameters: parameters)
    }

    @Test("every parameter is mapped onto Google's request format")
    func requestMapping() async throws {
        let fake = FakeGemini([FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg")])
        let reference = try ImageCodec.encodePNG(Canvas(width: 4, height: 4, fill: .white))
        let parameters = NanoBanana2Parameters(
            prompt: "a 'sign'", seed: 99, imageURLs: ["data:image/png;base64," + Data(reference).base64EncodedString()],
            webSearch: true, aspectRatio: .landscape21x9, outputFormat: .jpg, thinkingLevel: .high, safetyTolerance: 1,
            outputResolution: .px512, responseModalities: .textAndImage)
        try await fake.run { engine in _ = try await engine.generate(request(parameters)) }

        let sent = try #require(fake.requests.first)
        #expect(sent.path == "/v1beta/models/gemini-3.1-flash-image-preview:generateContent")
        #expect(sent.apiKey == "test-key-123")
        let body = sent.body
        let contents = try #require(body["contents"] as? [[String: Any]])
        let parts = try #require(contents.first?["parts"] as? [[String: Any]])
        #expect(parts.first?["text"] as? String == "a 'sign'")
        let inline = try #require(parts.last?["inlineData"] as? [String: Any])
        #expect(inline["mimeType"] as? String == "image/png")
        #expect(inline["data"] as? String == Data(reference).base64EncodedString())
        let config = try #require(body["generationConfig"] as? [String: Any])
        #expect(config["responseModalities"] as? [String] == ["TEXT", "IMAGE"])
        #expect(config["seed"] as? Int == 99)
        let imageConfig = try #require(config["imageConfig"] as? [String: Any])
        #expect(imageConfig["aspectRatio"] as? String == "21:9")
        #expect(imageConfig["imageSize"] as? String == "512")
        #expect((config["thinkingConfig"] as? [String: Any])?["thinkingLevel"] as? String == "HIGH")
        let tools = try #require(body["tools"] as? [[String: Any]])
        #expect(tools.first?["googleSearch"] != nil)
        let safety = try #require(body["safetySettings"] as? [[String: Any]])
        #expect(safety.count == 4)
        #expect(safety.allSatisfy { $0["threshold"] as? String == "BLOCK_LOW_AND_ABOVE" })
    }

    @Test("auto leaves the aspect ratio out; IMAGE asks for the image alone; no search tool unless asked")
    func defaultsMapping() async throws {
        let fake = FakeGemini([FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg")])
        try await fake.run { engine in
            _ = try await engine.generate(
                request(NanoBanana2Parameters(prompt: "x", aspectRatio: .auto, responseModalities: .image)))
        }
        let body = try #require(fake.requests.first).body
        let config = try #require(body["generationConfig"] as? [String: Any])
        #expect((config["imageConfig"] as? [String: Any])?["aspectRatio"] == nil)
        #expect((config["imageConfig"] as? [String: Any])?["imageSize"] as? String == "1K")
        #expect(config["responseModalities"] as? [String] == ["IMAGE"])
        #expect((config["thinkingConfig"] as? [String: Any])?["thinkingLevel"] as? String == "MINIMAL")
        #expect(body["tools"] == nil)
        #expect((body["safetySettings"] as? [[String: Any]])?.first?["threshold"] as? String == "BLOCK_ONLY_HIGH")
    }

    @Test("safety tolerance 1…6 maps to ever looser thresholds")
    func safetyTable() {
        #expect(
            (1...6).map(GeminiRequest.threshold(forTolerance:)) == [
                "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH", "BLOCK_ONLY_HIGH", "BLOCK_NONE",
                "OFF",
            ])
    }

    @Test("JPEG bytes labelled PNG are transcoded to the PNG asked for, with their real size and the text")
    func transcodes() async throws {
        let fake = FakeGemini([FakeGemini.imageReply(try sampleJPEG(width: 120, height: 80), mimeType: "image/png")])
        try await fake.run { engine in
            let image = try await engine.generate(request(NanoBanana2Parameters(prompt: "x", outputFormat: .png)))
            #expect(ImageFormat.sniff(image.bytes) == .png)
            #expect(image.width == 120 && image.height == 80)
            #expect(image.text == "Here it is.")
        }
    }

    @Test("a JPEG asked as JPEG passes through untouched")
    func passThrough() async throws {
        let jpeg = try sampleJPEG()
        let fake = FakeGemini([FakeGemini.imageReply(jpeg, mimeType: "image/jpeg", text: nil)])
        try await fake.run { engine in
            let image = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
            #expect(image.bytes == jpeg)
            #expect(image.text == nil)
        }
    }

    @Test(
        "blocks become content-block failures that say why",
        arguments: [
            #"{"candidates":[{"finishReason":"IMAGE_SAFETY","content":{"parts":[]}}]}"#,
            #"{"candidates":[{"finishReason":"PROHIBITED_CONTENT"}]}"#,
            #"{"promptFeedback":{"blockReason":"SAFETY"}}"#,
            #"{"candidates":[{"finishReason":"NO_IMAGE","content":{"parts":[{"text":"I can't draw that."}]}}]}"#,
        ])
    func blocks(reply: String) async throws {
        let fake = FakeGemini([FakeGemini.Reply(body: reply)])
        try await fake.run { engine in
            do {
                _ = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
                Issue.record("a block must fail the job")
            } catch let failure as EngineFailure {
                guard case .contentBlocked(let reason) = failure else {
                    Issue.record("expected a content block, got \(failure)")
                    return
                }
                #expect(reason.contains("SAFETY") || reason.contains("PROHIBITED") || reason.contains("NO_IMAGE"))
            }
        }
    }

    @Test("429 with Retry-After and 503 are retried, then succeed")
    func retries() async throws {
        let fake = FakeGemini([
            FakeGemini.errorReply(.tooManyRequests, message: "Resource exhausted", headers: [.retryAfter: "0"]),
            FakeGemini.errorReply(.serviceUnavailable, message: "overloaded"),
            FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg"),
        ])
        try await fake.run(maxAttempts: 3) { engine in
            let image = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
            #expect(image.width == 96)
            #expect(image.usage == UpstreamUsage(retries: 2, promptTokens: 12, outputTokens: 1290, totalTokens: 1302))
        }
        #expect(fake.requests.count == 3)
    }

    @Test("an upstream that stays unavailable fails the job after the last attempt")
    func unavailable() async throws {
        let fake = FakeGemini(
            Array(repeating: FakeGemini.errorReply(.serviceUnavailable, message: "overloaded"), count: 3))
        try await fake.run(maxAttempts: 3) { engine in
            await #expect(throws: EngineFailure.self) {
                try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
            }
        }
        #expect(fake.requests.count == 3)
    }

    @Test("a slow upstream times out and counts as unavailable")
    func slow() async throws {
        var reply = FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg")
        reply.delay = .seconds(2)
        let fake = FakeGemini([reply, reply])
        try await fake.run(maxAttempts: 2, requestTimeout: .milliseconds(200)) { engine in
            do {
                _ = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
                Issue.record("a slow upstream must fail")
            } catch let failure as EngineFailure {
                guard case .upstreamUnavailable = failure else {
                    Issue.record("expected unavailable, got \(failure)")
                    return
                }
            }
        }
    }

    @Test("400 fails with Google's message, unretried; 401/403 fail without leaking the key")
    func permanentErrors() async throws {
        let fake = FakeGemini([
            FakeGemini.errorReply(.badRequest, message: "Invalid value at 'generation_config.seed'"),
            FakeGemini.errorReply(.forbidden, message: "API key not valid. key=test-key-123"),
        ])
        try await fake.run { engine in
            do {
                _ = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
            } catch let failure as EngineFailure {
                #expect(failure == .upstreamRejected("Invalid value at 'generation_config.seed'"))
            }
            do {
                _ = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
            } catch let failure as EngineFailure {
                #expect(failure == .upstreamUnauthorized)
                #expect(!failure.description.contains("test-key-123"))
            }
        }
        #expect(fake.requests.count == 2)
    }

    @Test("malformed JSON and undecodable image data fail clearly")
    func malformed() async throws {
        let fake = FakeGemini([
            FakeGemini.Reply(body: "{not json"),
            FakeGemini.imageReply([0x00, 0x01, 0x02, 0x03], mimeType: "image/png"),
        ])
        try await fake.run { engine in
            for _ in 0..<2 {
                do {
                    _ = try await engine.generate(request(NanoBanana2Parameters(prompt: "x")))
                    Issue.record("must fail")
                } catch let failure as EngineFailure {
                    guard case .upstreamInvalidResponse = failure else {
                        Issue.record("expected an invalid response, got \(failure)")
                        return
                    }
                }
            }
        }
    }

    @Test("http(s) references fail clearly when no fetcher is configured")
    func remoteReferenceWithoutFetcher() async throws {
        await #expect(throws: EngineFailure.self) {
            try await ReferenceImages(fetcher: nil).load(["https://img.example.com/a.png"])
        }
    }

    @Test("a reference over the upstream's 7 MB limit is re-encoded as a JPEG that fits")
    func shrinksLargeReference() throws {
        // Noise does not compress: a 2000×1400 PNG of it is about 8 MB.
        var canvas = Canvas(width: 2000, height: 1400, fill: .black)
        var state: UInt64 = 42
        for index in canvas.pixels.indices {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            canvas.pixels[index] = index % 4 == 3 ? 255 : UInt8(truncatingIfNeeded: state >> 33)
        }
        let png = try ImageCodec.encodePNG(canvas, fast: true)
        #expect(png.count > GeminiEngine.maxInlineBytes)
        let shrunk = try GeminiEngine.shrink(png, index: 0)
        #expect(shrunk.count <= GeminiEngine.maxInlineBytes)
        #expect(ImageFormat.sniff(shrunk) == .jpeg)
        #expect(throws: EngineFailure.self) {
            try GeminiEngine.shrink(
                [0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50] + [UInt8](repeating: 1, count: 100),
                index: 3)
        }
    }
}
