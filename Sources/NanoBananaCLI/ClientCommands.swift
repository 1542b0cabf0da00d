import ArgumentParser
import Foundation
import NanoBananaAPI
import NanoBananaClient

/// Where the API is and which key to use, shared by the client commands.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "The API's v1 base URL. [NANO_BANANA_URL] (default: http://127.0.0.1:8080/v1)")
    var url: String?

    @Option(name: .long, help: "The API key. [SEGMIND_API_KEY]")
    var apiKey: String?

    func client() throws -> Client {
        let environment = ProcessInfo.processInfo.environment
        do {
            return try Client(
                apiKey: apiKey ?? environment["SEGMIND_API_KEY"],
                baseURL: url ?? environment["NANO_BANANA_URL"] ?? "http://127.0.0.1:8080/v1")
        } catch .missingAPIKey {
            throw ValidationError("No API key: pass --api-key or set SEGMIND_API_KEY.")
        } catch {
            throw ValidationError("Invalid --url: use an absolute URL such as http://127.0.0.1:8080/v1.")
        }
    }
}

/// The generation parameters as flags.
struct GenerationOptions: ParsableArguments {
    @Argument(help: "The prompt. Quote the words you want drawn: 'MEXITALY'.")
    var prompt: String

    @Option(name: .long, help: "auto, 1:1, 16:9, 9:16, 21:9, … (default: 1:1)")
    var aspectRatio: String?

    @Option(name: .long, help: "512px, 1K, 2K or 4K (default: 1K)")
    var resolution: String?

    @Option(name: .long, help: "jpg or png (default: jpg)")
    var format: String?

    @Option(name: .long, help: "The seed (default: 420875).")
    var seed: Int64?

    @Option(name: .customLong("ref"), help: "A reference image: a local file or an http(s) URL; repeatable.")
    var references: [String] = []

    @Flag(name: .long, help: "Think harder (thinking_level high).")
    var thinkHard = false

    @Flag(name: .long, help: "Let the model search the web.")
    var webSearch = false

    @Option(name: .long, help: "A URL the server pushes the result to (signed webhooks), http(s).")
    var webhook: String?

    @Option(name: .long, help: "The webhook's events: processing, completed, failed (default: completed,failed).")
    var webhookEvents: String?

    @Option(
        name: .long,
        help: "Makes a retry of this submit safe: the same key and body within 24 h return the first request.")
    var idempotencyKey: String?

    /// Where the request's webhook events go, if anywhere.
    var webhookRequest: WebhookRequest? {
        webhook.map { url in
            WebhookRequest(
                url: url,
                events: webhookEvents.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
                    ?? [])
        }
    }

    func parameters() throws -> NanoBanana2Parameters {
        var object: [String: JSONValue] = ["prompt": .string(prompt)]
        if let aspectRatio { object["aspect_ratio"] = .string(aspectRatio) }
        if let resolution { object["output_resolution"] = .string(resolution) }
        if let format { object["output_format"] = .string(format) }
        if let seed { object["seed"] = .integer(seed) }
        if thinkHard { object["thinking_level"] = .string("high") }
        if webSearch { object["web_search"] = .bool(true) }
        if !references.isEmpty { object["image_urls"] = .array(try references.map { .string(try Self.reference($0)) }) }
        do {
            return try NanoBanana2Parameters.validated(from: object)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// A URL as given, or a local file as a `data:` URL.
    static func reference(_ value: String) throws -> String {
        if value.hasPrefix("http://") || value.hasPrefix("https://") || value.hasPrefix("data:") { return value }
        guard let data = FileManager.default.contents(atPath: value) else {
            throw ValidationError("Cannot read the reference image '\(value)'.")
        }
        guard let type = ImageType.sniff([UInt8](data.prefix(12))) else {
            throw ValidationError("'\(value)' is not a PNG, JPEG or WebP image.")
        }
        return "data:\(type);base64," + data.base64EncodedString()
    }
}

/// Exit codes of the client commands.
enum ClientExit {
    static let failed = ExitCode(1)
    static let timedOut = ExitCode(3)
}
