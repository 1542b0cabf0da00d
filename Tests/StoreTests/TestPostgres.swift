import Foundation
import Logging
import Testing

@testable import Store

/// The PostgreSQL that scripts/test.sh starts for the suites (`NANO_BANANA_TEST_POSTGRES_URL`).
/// Without it the PostgreSQL cases are left out; with it, each store gets a fresh schema.
enum TestPostgres {
    static var url: String? { ProcessInfo.processInfo.environment["NANO_BANANA_TEST_POSTGRES_URL"] }

    static var isAvailable: Bool { url != nil }

    /// A migrated database in a schema of its own (or in `schema`, to stand for a second
    /// node on the same one), its pool running for the rest of the run.
    static func freshDatabase(
        schema: String? = nil, operationTimeout: Duration = .seconds(5)
    ) async throws
        -> PostgresDatabase
    {
        guard let url else { throw StoreUnavailable(reason: "NANO_BANANA_TEST_POSTGRES_URL is not set") }
        let schema = schema ?? newSchemaName()
        var logger = Logger(label: "store-test")
        logger.logLevel = .warning
        let database = PostgresDatabase(
            location: try PostgresLocation(url: url + (url.contains("?") ? "&" : "?") + "schema=" + schema),
            logger: logger, maxConnections: 4, operationTimeout: operationTimeout)
        database.start()
        try await database.migrate()
        return database
    }

    static func newSchemaName() -> String {
        "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20).lowercased()
    }
}

/// A store implementation the credit, limit and key suites run against: SQLite always,
/// PostgreSQL when the test script provides one.
enum TestBackend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite = "SQLite"
    case postgres = "PostgreSQL"

    static var all: [TestBackend] { TestPostgres.isAvailable ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }

    /// A fresh job store and key store over one new database.
    func stores(clock: ManualWallClock) async throws -> (jobs: any JobStore, keys: any APIKeyStore) {
        switch self {
        case .sqlite:
            let database = try SQLiteDatabase(path: StoreFixture.temporaryPath())
            return (
                SQLiteJobStore(database: database, clock: clock), SQLiteAPIKeyStore(database: database, clock: clock)
            )
        case .postgres:
            let database = try await TestPostgres.freshDatabase()
            return (
                PostgresJobStore(database: database, clock: clock),
                PostgresAPIKeyStore(database: database, clock: clock)
            )
        }
    }
}
