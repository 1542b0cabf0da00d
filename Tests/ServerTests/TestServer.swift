import Engines
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NanoBananaAPI
import Store
import TestSupport

@testable import Server

/// A server over a fresh temporary data directory, with one API key, for route tests.
struct TestServer {
    let components: ServerComponents
    let key: String
    let clock: ManualWallClock

    /// Builds the server and runs `body` against it through Hummingbird's router test
    /// client (workers and sweeper run as in production); with `setup: .live`, through a
    /// real server on a loopback port (`client.port`). `logs` collects what it logs.
    @discardableResult
    static func run<Value: Sendable>(
        _ setup: TestingSetup = .router,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        engine: (any ImageEngine)? = nil,
        logs: LogRecorder? = nil,
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
        configuration.storeURL = TestStore.routesOnPostgres ? TestStore.freshPostgresURL() : nil
        // A busy test machine is not an outage: the production deadline (5 s) is for those.
        configuration.storeTimeout = 60
        configure(&configuration)
        let clock = ManualWallClock(Date())
        var logger = logs.map { recorder in Logger(label: "test") { _ in recorder.handler } } ?? Logger(label: "test")
        logger.logLevel = logs == nil ? .warning : .debug
        let components = try await ServerComponents(
            configuration: configuration, clock: clock, engine: engine, logger: logger)
        let app = try await buildApplication(components, logger: logger)
        // The test runs once the node has started (the store is prepared, as in production).
        return try await app.test(setup) { client in
            let key = try await components.keys.create(name: "test").secret
            return try await body(TestServer(components: components, key: key, clock: clock), client)
        }
    }

    /// A second, independent key store over the same store, standing for another process
    /// (`nano-banana keys …`, or another node).
    func otherProcessKeys() async throws -> any APIKeyStore {
        switch components.backend {
        case let sqlite as SQLiteBackend:
            return SQLiteAPIKeyStore(database: try SQLiteDatabase(path: sqlite.database.path))
        case let postgres as PostgresBackend:
            let other = PostgresDatabase(
                location: postgres.database.location, logger: Logger(label: "other"), maxConnections: 2)
            // Runs for the rest of the test process, as another process's pool would.
            Task { await other.run() }
            return PostgresAPIKeyStore(database: other)
        default:
            throw StoreUnavailable(reason: "an unknown store")
        }
    }

    /// Takes a PostgreSQL store away from under the running server; `false` for the
    /// embedded store, which cannot be.
    func closeStore() -> Bool {
        guard let postgres = components.backend as? PostgresBackend else { return false }
        postgres.database.close()
        return true
    }

    var auth: HTTPFields { [.apiKey: key] }
}

extension TestClientProtocol {
    /// POSTs a JSON string with the given key.
    func post(_ uri: String, json: String, key: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.apiKey] = key }
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, key: String?) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.apiKey] = key }
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

/// Which store the route tests run on. By default SQLite; with
/// `NANO_BANANA_TEST_ROUTES_ON_POSTGRES=1` and `NANO_BANANA_TEST_POSTGRES_URL` (set by
/// scripts/test.sh), every route test runs on PostgreSQL instead, each in its own schema.
enum TestStore {
    static let environment = ProcessInfo.processInfo.environment

    static var postgresURL: String? { environment["NANO_BANANA_TEST_POSTGRES_URL"] }

    static var routesOnPostgres: Bool {
        environment["NANO_BANANA_TEST_ROUTES_ON_POSTGRES"] == "1" && postgresURL != nil
    }

    /// The test cluster's URL with a schema of its own.
    static func freshPostgresURL() -> String? {
        guard let url = postgresURL else { return nil }
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20).lowercased()
        return url + (url.contains("?") ? "&" : "?") + "schema=" + schema
    }
}
