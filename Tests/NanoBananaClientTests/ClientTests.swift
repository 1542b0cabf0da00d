import AsyncHTTPClient
import Engines
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NanoBananaAPI
import NanoBananaClient
import Server
import Store
import Testing

/// A real server on a loopback port (preview engine, temp data dir) for the SDK to call.
func withLiveServer(
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: @Sendable (_ baseURL: String, _ components: ServerComponents, _ key: String) async throws -> Void
) async throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nb-sdk-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: directory) }
    var configuration = ServerConfiguration()
    configuration.dataDirectory = directory.path
    configuration.port = 0
    configuration.workers = 2
    configuration.blockedWords = ["forbidden"]
    configuration.drainTimeout = 1
    configure(&configuration)
    let components = try await ServerComponents(configuration: configuration)
    let key = try await components.keys.create(name: "sdk").secret
    var logger = Logger(label: "sdk-test")
    logger.logLevel = .warning
    let app = try await buildApplication(components, logger: logger)
    try await app.test(.live) { client in
        let port = try #require(client.port)
        try await body("http://127.0.0.1:\(port)/v1", components, key)
    }
}

@Suite("Swift SDK against a live server")
struct ClientTests {
    let small = NanoBanana2Parameters(prompt: "a 'hello' sign", outputResolution: .px512)

    @Test("run submits, waits and returns the result, whose image downloads")
    func run() async throws {
        try await withLiveServer { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            let result = try await client.run(small, interval: .milliseconds(50))
            #expect(result.body.status == .completed)
            #expect(result.body.width == 512)
            let image = try await result.image()
            #expect(Array(image.prefix(3)) == [0xFF, 0xD8, 0xFF])
        }
    }

    @Test("runSync returns the bytes and the v1 headers' facts")
    func runSync() async throws {
        try await withLiveServer { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            var parameters = small
            parameters.outputFormat = .png
            parameters.seed = 9
            let result = try await client.runSync(parameters)
            #expect(result.contentType == "image/png")
            #expect(result.seed == 9)
            #expect(result.requestID != nil)
            #expect(Array(result.bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        }
    }

    @Test("a blocked prompt throws InferenceFailed with the server's detail")
    func failed() async throws {
        try await withLiveServer { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            var parameters = small
            parameters.prompt = "something forbidden"
            do {
                _ = try await client.run(parameters, interval: .milliseconds(50))
                Issue.record("must fail")
            } catch let failure as InferenceFailed {
                #expect(failure.detail?.contains("Content blocked") == true)
                #expect(failure.statusBody.status == .failed)
            }
        }
    }

    @Test("a wait that times out names the request, which can be resumed by id")
    func timeoutAndResume() async throws {
        try await withLiveServer(configure: { $0.previewLatency = 1 }) { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            let job = try await client.submitAsync(small)
            do {
                _ = try await job.wait(timeout: .milliseconds(200), interval: .milliseconds(50))
                Issue.record("must time out")
            } catch let timeout as InferenceTimeout {
                #expect(timeout.requestID == job.requestID)
                let resumed = try await client.job(requestID: timeout.requestID).wait(
                    timeout: .seconds(300), interval: .milliseconds(100))
                #expect(resumed.body.requestID == job.requestID)
            }
        }
    }

    @Test("401, 400 and 429 surface as APIError with the status, detail and Retry-After")
    func errors() async throws {
        try await withLiveServer(configure: { $0.runsWorkers = false }) { base, components, key in
            do {
                _ = try await Client(apiKey: "nb_wrong", baseURL: base).submitAsync(small)
                Issue.record("must be refused")
            } catch let error as APIError {
                #expect(error.status == 401)
            }
            do {
                _ = try await Client(apiKey: key, baseURL: base).submitAsync(
                    "nano-banana-2", json: Data(#"{"prompt":"x","seed":"a"}"#.utf8))
                Issue.record("must be refused")
            } catch let error as APIError {
                #expect(error.status == 400)
                #expect(error.detail?.contains("seed") == true)
            }
            let limited = try await components.keys.create(name: "limited")
            _ = try await components.keys.setLimits(limited.key.id, requestsPerMinute: 6, burst: 1, maxInFlight: nil)
            let client = try Client(apiKey: limited.secret, baseURL: base)
            _ = try await client.submitAsync(small)
            do {
                _ = try await client.submitAsync(small)
                Issue.record("must be limited")
            } catch let error as APIError {
                #expect(error.status == 429)
                // A token every 10 s, less the time between the two submits (over a second
                // on a loaded machine): the wait counts down, it is never more than 10.
                #expect((1...10).contains(error.retryAfter ?? 0))
            }
        }
    }

    @Test("the key comes from SEGMIND_API_KEY when none is given, and is required")
    func configuration() throws {
        if ProcessInfo.processInfo.environment["SEGMIND_API_KEY"] == nil {
            #expect(throws: ClientConfigurationError.missingAPIKey) { try Client(baseURL: "http://127.0.0.1:1/v1") }
        }
        #expect(throws: ClientConfigurationError.invalidBaseURL("nope")) { try Client(apiKey: "k", baseURL: "nope") }
    }
}
