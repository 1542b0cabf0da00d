import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing

@testable import Store

/// The one fixture of the store suites: a store implementation they run against, SQLite
/// always and PostgreSQL when scripts/test.sh provides one (`NANO_BANANA_TEST_POSTGRES_URL`),
/// each case on a database of its own.
enum TestBackend: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite = "SQLite"
    case postgres = "PostgreSQL"

    static var all: [TestBackend] { TestPostgres.isAvailable ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }

    /// A fresh job store and key store over one new database, logging to `logger` (by
    /// default nowhere on SQLite, PostgreSQL's warnings to standard error).
    func stores(clock: ManualWallClock = ManualWallClock(), logger: Logger? = nil) async throws -> TestStores {
        switch self {
        case .sqlite:
            let database = try SQLiteDatabase(path: TestStores.temporaryPath())
            let logger = logger ?? .discarding
            return TestStores(
                jobs: SQLiteJobStore(database: database, clock: clock, logger: logger),
                keys: SQLiteAPIKeyStore(database: database, clock: clock, logger: logger), database: .sqlite(database))
        case .postgres:
            let database = try await TestPostgres.freshDatabase(logger: logger)
            return TestStores(
                jobs: PostgresJobStore(database: database, clock: clock),
                keys: PostgresAPIKeyStore(database: database, clock: clock), database: .postgres(database))
        }
    }
}

/// The stores a case runs against, and their database for checks the API cannot make.
struct TestStores: Sendable {
    enum Backing: Sendable {
        case sqlite(SQLiteDatabase)
        case postgres(Store.PostgresDatabase)
    }

    let jobs: any JobStore
    let keys: any APIKeyStore
    let database: Backing

    /// The webhook outbox and registry: the same stores, seen as such.
    var outbox: any WebhookOutbox { jobs as! any WebhookOutbox }
    var registry: any WebhookRegistry { keys as! any WebhookRegistry }
    /// The request history and the uploads: the job store, seen as such.
    var history: any RequestHistory { jobs as! any RequestHistory }
    var uploads: any UploadStore { jobs as! any UploadStore }

    /// Every cell of the `api_keys` table, as text: to show what is (and is not) stored.
    func apiKeyCells() async throws -> [String] {
        switch database {
        case .sqlite(let database):
            return try await database.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM api_keys").flatMap { row in
                    row.databaseValues.map { "\($0.storage)" }
                }
            }
        case .postgres(let database):
            return try await database.withConnection { connection in
                try await connection.rows("SELECT api_keys::text FROM api_keys", logger: database.logger).map {
                    try $0.decode(String.self)
                }
            }
        }
    }

    /// Runs one statement straight on the database: to write what the stores never would
    /// (a damaged row), or to look at what the API does not show.
    func execute(_ sql: String) async throws {
        switch database {
        case .sqlite(let database):
            try await database.pool.write { db in try db.execute(sql: sql) }
        case .postgres(let database):
            try await database.withConnection { connection in
                try await connection.run(PostgresQuery(unsafeSQL: sql), logger: database.logger)
                return ()
            }
        }
    }

    /// The first column of the first row of a query, as an integer.
    func integer(_ sql: String) async throws -> Int? {
        switch database {
        case .sqlite(let database):
            return try await database.pool.read { db in try Int.fetchOne(db, sql: sql) }
        case .postgres(let database):
            return try await database.withConnection { connection in
                try await connection.value(Int?.self, PostgresQuery(unsafeSQL: sql), logger: database.logger) ?? nil
            }
        }
    }

    /// The query plan of a statement, one line per step: to show which index serves it.
    /// On PostgreSQL sequential scans are ruled out first, as a large table would.
    func plan(_ sql: String) async throws -> [String] {
        switch database {
        case .sqlite(let database):
            return try await database.pool.read { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String? ?? "" }
            }
        case .postgres(let database):
            return try await database.withTransaction { connection in
                try await connection.run("SET LOCAL enable_seqscan = off", logger: database.logger)
                return try await connection.rows(PostgresQuery(unsafeSQL: "EXPLAIN " + sql), logger: database.logger)
                    .map { try $0.decode(String.self) }
            }
        }
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("nb-store-\(UUID().uuidString).sqlite").path
    }
}

/// The PostgreSQL that scripts/test.sh starts for the suites.
enum TestPostgres {
    static var url: String? { ProcessInfo.processInfo.environment["NANO_BANANA_TEST_POSTGRES_URL"] }

    static var isAvailable: Bool { url != nil }

    /// A migrated database in a schema of its own (or in `schema`, to stand for a second
    /// node on the same one), its pool running for the rest of the run. Its deadlines are
    /// generous: a test machine may be busy with other work (a build beside the suite),
    /// and a slow connection there is not the outage the production deadline is for.
    static func freshDatabase(
        schema: String? = nil, operationTimeout: Duration = .seconds(60), logger: Logger? = nil
    ) async throws
        -> Store.PostgresDatabase
    {
        guard let url else { throw StoreUnavailable(reason: "NANO_BANANA_TEST_POSTGRES_URL is not set") }
        let schema = schema ?? newSchemaName()
        let database = PostgresDatabase(
            location: try PostgresLocation(url: url + (url.contains("?") ? "&" : "?") + "schema=" + schema),
            logger: logger ?? quietLogger, maxConnections: 4, operationTimeout: operationTimeout,
            runningTimeout: max(operationTimeout, .seconds(60)))
        // The pool runs for the rest of the test process.
        Task { await database.run() }
        try await database.waitUntilRunning()
        try await database.migrate()
        return database
    }

    /// Warnings and worse, to standard error.
    static var quietLogger: Logger {
        var logger = Logger(label: "store-test")
        logger.logLevel = .warning
        return logger
    }

    static func newSchemaName() -> String {
        "s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20).lowercased()
    }
}
