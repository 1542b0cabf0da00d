import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization
import _ConnectionPoolModule

/// A PostgreSQL database shared by every node of a cluster: a connection pool, the schema
/// migrations, and the one way the stores talk to it, ``withConnection(_:)``, which turns
/// an outage into ``StoreUnavailable`` within ``operationTimeout`` instead of a hang.
///
/// The pool must be running (``run()``, as a service of the node) for queries to go out.
public final class PostgresDatabase: Sendable {
    public let location: PostgresLocation
    let client: PostgresClient
    let logger: Logger
    /// How long an operation may wait for a connection before the store is declared
    /// unavailable. Once it has one, a query fails as soon as the connection does.
    let operationTimeout: Duration
    /// How long an operation may take in all, once it has its connection.
    let runningTimeout: Duration
    /// The channel for ``PostgresEvents``: one per schema, so deployments sharing a
    /// database do not wake each other.
    let channel: String
    /// Connections the pool opens at most.
    public let maxConnections: Int

    public init(
        location: PostgresLocation, logger: Logger, maxConnections: Int = 20, operationTimeout: Duration = .seconds(5),
        runningTimeout: Duration = .seconds(8)
    ) {
        self.location = location
        self.logger = logger
        self.maxConnections = maxConnections
        self.operationTimeout = operationTimeout
        self.runningTimeout = max(runningTimeout, operationTimeout)
        self.channel = "nano_banana_events" + (location.schema.map { "_" + $0 } ?? "")
        client = PostgresClient(
            configuration: location.clientConfiguration(maxConnections: maxConnections), backgroundLogger: logger)
    }

    /// Set by a failure to reach the database, cleared by the next success.
    private let degraded = Atomic<Bool>(false)
    private let closed = Latch()
    private let running = Latch()
    /// Operations in ``withConnection(_:)``, and those of them that hold a connection.
    private let operations = Atomic<Int>(0)
    private let holding = Atomic<Int>(0)

    /// What the pool is doing now, as far as this process's operations show it (PostgresNIO
    /// does not expose its pool's state): connections held by operations, and operations
    /// waiting for one. The cluster listener's own connection is not among them.
    public var usage: PoolUsage {
        let holding = holding.load(ordering: .relaxed)
        return PoolUsage(
            inUse: holding, waiting: max(0, operations.load(ordering: .relaxed) - holding), maximum: maxConnections)
    }

    /// Runs the connection pool until the calling task is cancelled or ``close()`` is
    /// called; queries wait for it. A node runs it as the first service of its group, so
    /// that it stops last.
    public func run() async {
        let client = client
        let closed = closed
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                self.running.open()
                await client.run()
            }
            group.addTask { try? await closed.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns once ``run()`` runs: before that, a query would only wait (and PostgresNIO
    /// warns about it).
    public func waitUntilRunning() async throws {
        try await running.wait()
    }

    /// Closes the pool's connections (``run()`` returns); later operations fail as
    /// unavailable.
    public func close() {
        closed.open()
    }

    /// One round trip to the database (`SELECT 1`), or ``StoreUnavailable``.
    public func ping() async throws {
        let logger = logger
        _ = try await withConnection { connection in try await connection.rows("SELECT 1", logger: logger).count }
    }

    /// Notes that the database was found unreachable (by the event listener, say), so that
    /// callers stop waiting long for connections until one succeeds again.
    func markUnreachable() {
        degraded.store(true, ordering: .relaxed)
    }

    /// Creates or upgrades the tables. Safe when several nodes start at once: the whole
    /// migration runs in one transaction under an advisory lock of the schema's own, and
    /// each step is recorded, so a second node waits, then finds nothing left to do; nodes
    /// of deployments in other schemas do not wait for each other.
    public func migrate() async throws {
        do {
            try await applyMigrations()
        } catch let error as PSQLError {
            throw StoreSetupError(location: location, detail: Self.explain(error))
        } catch let error as StoreUnavailable {
            throw StoreSetupError(location: location, detail: "cannot reach it (\(error.reason))")
        }
    }

    /// What PostgreSQL said, for a person: PSQLError's own description hides it.
    static func explain(_ error: PSQLError) -> String {
        guard let info = error.serverInfo, let message = info[.message] else { return "\(error.code)" }
        return message + (info[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
    }

    private func applyMigrations() async throws {
        let logger = logger
        let schema = location.schema
        try await withTransaction { connection in
            // Nodes starting together take turns, from the schema on.
            let lock = "nano-banana migrations " + (schema ?? "")
            try await connection.run("SELECT pg_advisory_xact_lock(hashtextextended(\(lock), 0))", logger: logger)
            if let schema {
                try await connection.run(
                    PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema)"), logger: logger)
            }
            try await connection.run(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<String>()
            for try await version in try await connection.run(
                "SELECT version FROM schema_migrations", logger: logger
            ).decode(String.self) {
                applied.insert(version)
            }
            for migration in PostgresMigrations.all where !applied.contains(migration.version) {
                // One statement per query: the extended protocol takes no lists.
                for statement in migration.statements {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.run(
                    "INSERT INTO schema_migrations (version) VALUES (\(migration.version))", logger: logger)
                logger.info("Applied a schema migration", metadata: ["version": "\(migration.version)"])
            }
        }
    }

    /// Runs `body` on a pooled connection. Fails with ``StoreUnavailable`` when no connection
    /// comes within ``operationTimeout`` (the body then never runs), when the connection
    /// fails, or when the body has not finished ``runningTimeout`` after the call (a
    /// statement on a connection that died unnoticed); errors the body throws itself pass
    /// through unchanged. A transaction abandoned that way cannot commit afterwards unless
    /// the connection was in fact alive; a database that slow is reported unavailable.
    func withConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws
        -> T
    {
        let race = DeadlineRace<T>()
        let client = self.client
        // While the database is known to be down, callers learn it within a second.
        let timeout = degraded.load(ordering: .relaxed) ? min(operationTimeout, .seconds(1)) : operationTimeout
        // The work and its deadline run as unstructured tasks on purpose: PostgresNIO 1.33
        // has been seen to leave a statement on a dying connection unanswered, and a caller
        // that waited for such a task to end would hang with it. The race resumes the caller
        // exactly once, whichever comes first: the result, the deadline, or the caller's
        // own cancellation, which is passed on to the work (a wait for a connection ends at
        // once; the transaction is rolled back).
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.start(continuation)
                let timer = Task {
                    try await Task.sleep(for: timeout)
                    if race.abandon(StoreUnavailable(reason: "no database connection within the deadline")) {
                        self.degraded.store(true, ordering: .relaxed)
                        return
                    }
                    try await Task.sleep(for: self.runningTimeout - timeout)
                    if race.abandon(
                        StoreUnavailable(reason: "the database did not answer within the deadline"), running: true)
                    {
                        self.degraded.store(true, ordering: .relaxed)
                    }
                }
                race.setWork(
                    Task {
                        self.operations.wrappingAdd(1, ordering: .relaxed)
                        defer { self.operations.wrappingSubtract(1, ordering: .relaxed) }
                        do {
                            let value = try await client.withConnection { connection in
                                guard race.begin() else { throw CancellationError() }
                                self.holding.wrappingAdd(1, ordering: .relaxed)
                                defer { self.holding.wrappingSubtract(1, ordering: .relaxed) }
                                return try await body(connection)
                            }
                            self.degraded.store(false, ordering: .relaxed)
                            race.finish(.success(value))
                        } catch {
                            let translated = Self.translate(error)
                            if translated is StoreUnavailable { self.degraded.store(true, ordering: .relaxed) }
                            race.finish(.failure(translated))
                        }
                        timer.cancel()
                    })
            }
        } onCancel: {
            race.cancel()
        }
    }

    /// ``withConnection(_:)`` inside BEGIN … COMMIT; any error rolls back and is rethrown as is.
    func withTransaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    )
        async throws -> T
    {
        let logger = self.logger
        return try await withConnection { connection in
            try await connection.run("BEGIN", logger: logger)
            do {
                let value = try await body(connection)
                try await connection.run("COMMIT", logger: logger)
                return value
            } catch {
                _ = try? await connection.run("ROLLBACK", logger: logger)
                throw error
            }
        }
    }

    /// Connection-level failures become ``StoreUnavailable``; SQL errors stay as they are.
    static func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as PSQLError:
            if error.code == .server {
                let state = error.serverInfo?[.sqlState] ?? ""
                // 08: connection exception (but 08P01, a malformed message, is a bug);
                // 53: insufficient resources; 57: operator intervention (shutdown).
                if (state.hasPrefix("08") && state != "08P01") || state.hasPrefix("53") || state.hasPrefix("57") {
                    return StoreUnavailable(reason: "PostgreSQL refused the operation (\(state))")
                }
                return error
            }
            return StoreUnavailable(
                reason: "PostgreSQL connection failed (\(error.code)\(error.underlying.map { ": \($0)" } ?? ""))")
        case is CancellationError, is StoreUnavailable:
            return error
        case let error as ConnectionPoolError where error == .requestCancelled:
            return CancellationError()
        case is ConnectionPoolError, is IOError, is ChannelError, is NIOConnectionError:
            // The pool's own errors (circuit breaker open, shut down) and socket errors.
            return StoreUnavailable(reason: "PostgreSQL connection failed (\(error))")
        default:
            return error
        }
    }
}

/// A moment of the connection pool's use (``PostgresDatabase/usage``).
public struct PoolUsage: Sendable, Equatable {
    /// Connections held by operations.
    public var inUse: Int
    /// Operations waiting for a connection.
    public var waiting: Int
    /// Connections the pool opens at most.
    public var maximum: Int
}

/// The PostgreSQL store could not be set up (migrations refused, wrong database).
public struct StoreSetupError: Error, Sendable, CustomStringConvertible {
    public var location: PostgresLocation
    public var detail: String

    public var description: String { "Could not prepare the store at \(location): \(detail)" }
}
