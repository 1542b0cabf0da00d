import Engines
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NanoBananaAPI
import Store

@testable import Server

/// A server over a fresh temporary data directory, with one API key, for route tests.
struct TestServer {
    let components: ServerComponents
    let key: String
    let clock: ManualWallClock

    /// Builds the server and runs `body` against it through Hummingbird's router test
    /// client (workers and sweeper run as in production).
    @discardableResult
    static func run<Value: Sendable>(
        configure: (inout ServerConfiguration) -> Void = { _ in },
        engine: (any ImageEngine)? = nil,
        _ body: @Sendable (TestServer, any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nb-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory.path
        configuration.port = 0
        configuration.workers = 1
        configuration.blockedWords = ["forbidden"]
        configuration.drainTimeout = 1
        configure(&configuration)
        let clock = ManualWallClock(Date())
        let components = try ServerComponents(configuration: configuration, clock: clock, engine: engine)
        let key = try await components.keys.create(name: "test").secret
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        let app = try await buildApplication(components, logger: logger)
        let server = TestServer(components: components, key: key, clock: clock)
        return try await app.test(.router) { client in try await body(server, client) }
    }

    var auth: HTTPFields { [HTTPField.Name("x-api-key")!: key] }
}

extension TestClientProtocol {
    /// POSTs a JSON string with the given key.
    func post(_ uri: String, json: String, key: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("x-api-key")!] = key }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, key: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[HTTPField.Name("x-api-key")!] = key }
        return try await execute(uri: uri, method: .get, headers: headers)
    }
}

extension TestResponse {
    /// The body decoded as `T`.
    func decoded<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
    }

    /// The `error` sentence of a JSON error body.
    var errorMessage: String? { (try? decoded(ErrorBody.self))?.error }

    var bytes: [UInt8] { Array(body.readableBytesView) }
}

/// Strips the scheme and authority of an absolute URL the API returned, for the router
/// test client.
func pathAndQuery(_ url: String) -> String {
    guard let components = URLComponents(string: url) else { return url }
    return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
}
