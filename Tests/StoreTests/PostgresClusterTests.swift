import Foundation
import Logging
import NanoBananaAPI
import Synchronization
import Testing

@testable import Store

/// What only a shared store must get right: nodes starting together, nodes hearing of each
/// other's work, sweeping once, and failing fast when the database is gone.
@Suite("PostgreSQL cluster store", .enabled(if: TestPostgres.isAvailable, "needs NANO_BANANA_TEST_POSTGRES_URL"))
struct PostgresClusterTests {
    @Test("migrations are idempotent and safe when several nodes start at once")
    func concurrentMigrations() async throws {
        let schema = TestPostgres.newSchemaName()
        let nodes = try await withThrowingTaskGroup(of: PostgresDatabase.self) { group in
            for _ in 0..<4 { group.addTask { try await TestPostgres.freshDatabase(schema: schema) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await nodes[0].migrate()
        let versions = try await nodes[1].withConnection { connection in
            try await connection.rows("SELECT version FROM schema_migrations", logger: Logger(label: "t")).count
        }
        #expect(versions == PostgresMigrations.all.count)
        let store = PostgresJobStore(database: nodes[2])
        _ = try await store.enqueue(newJob("after-migrations"))
        #expect(try await PostgresJobStore(database: nodes[3]).job(id: "after-migrations")?.status == .queued)
    }

    @Test("a node hears of jobs queued and finished on another node")
    func events() async throws {
        let schema = TestPostgres.newSchemaName()
        let apiNode = PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema))
        let workerDatabase = try await TestPostgres.freshDatabase(schema: schema)
        let heard = Mutex<[String]>([])
        let listening = AsyncStream<Void>.makeStream()
        let events = PostgresEvents(
            database: workerDatabase,
            handlers: .init(
                jobQueued: { heard.withLock { $0.append("queued") } },
                jobFinished: { id in heard.withLock { $0.append("finished:" + id) } },
                keysChanged: { heard.withLock { $0.append("keys") } },
                resynchronize: { listening.continuation.yield() }))
        let listener = Task { await events.run() }
        defer { listener.cancel() }
        for await _ in listening.stream { break }

        _ = try await apiNode.enqueue(newJob("j1"))
        let worker = PostgresJobStore(database: workerDatabase)
        let claimed = try #require(try await worker.claim(worker: "w", lease: 30))
        #expect(try await worker.complete(jobID: claimed.id, worker: "w", output: sampleOutput, image: [1]))
        _ = try await PostgresAPIKeyStore(database: workerDatabase).create(name: "k")
        for _ in 0..<100 where heard.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(heard.withLock { $0 } == ["queued", "finished:j1", "keys"])
    }

    @Test("two nodes sweeping at once delete each expired job exactly once")
    func sweepOnce() async throws {
        let clock = ManualWallClock()
        let schema = TestPostgres.newSchemaName()
        let nodeA = PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema), clock: clock)
        let nodeB = PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema), clock: clock)
        for index in 0..<60 {
            _ = try await nodeA.enqueue(newJob("j\(index)"))
            let job = try #require(try await nodeA.claim(worker: "w", lease: 30))
            #expect(try await nodeA.complete(jobID: job.id, worker: "w", output: sampleOutput, image: [1]))
        }
        clock.advance(by: 10)
        async let fromA = nodeA.deleteFinished(before: clock.now(), limit: 7)
        async let fromB = nodeB.deleteFinished(before: clock.now(), limit: 7)
        var deleted = try await (fromA + fromB).map(\.id)
        while true {
            let more = try await nodeB.deleteFinished(before: clock.now(), limit: 7)
            if more.isEmpty { break }
            deleted += more.map(\.id)
        }
        #expect(deleted.count == 60)
        #expect(Set(deleted).count == 60)
        #expect(try await nodeA.counts().isEmpty)
    }

    @Test("with the database gone, operations fail as unavailable within the deadline, not hang")
    func unavailable() async throws {
        var logger = Logger(label: "t")
        logger.logLevel = .critical
        // A loopback port nothing listens on.
        let database = PostgresDatabase(
            location: try PostgresLocation(url: "postgres://nobody@127.0.0.1:9/none?sslmode=disable"), logger: logger,
            maxConnections: 2, operationTimeout: .seconds(1))
        let pool = Task { await database.run() }
        let store = PostgresJobStore(database: database)
        let started = ContinuousClock.now
        await #expect(throws: StoreUnavailable.self) { _ = try await store.job(id: "x") }
        await #expect(throws: StoreUnavailable.self) { _ = try await store.enqueue(newJob("x")) }
        // Not a timing claim: the deadlines are 1 s each, and a hang would be forever. The
        // bound only tells a hang from a busy machine (the suites run in parallel, and CI may
        // run beside a build), where timers have been seen to fire many seconds late.
        #expect(ContinuousClock.now - started < .seconds(60))
        database.close()
        await pool.value
    }
}

@Suite("First key", .enabled(if: TestPostgres.isAvailable, "needs NANO_BANANA_TEST_POSTGRES_URL"))
struct FirstKeyTests {
    @Test("API nodes starting together on an empty database make one first key between them")
    func oneFirstKey() async throws {
        let schema = TestPostgres.newSchemaName()
        var nodes: [PostgresAPIKeyStore] = []
        for _ in 0..<4 {
            nodes.append(PostgresAPIKeyStore(database: try await TestPostgres.freshDatabase(schema: schema)))
        }
        let made = try await withThrowingTaskGroup(of: Bool.self) { group in
            for node in nodes { group.addTask { try await node.createFirstKey(name: "default") != nil } }
            return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
        }
        #expect(made == 1)
        #expect(try await nodes[0].list().count == 1)
        #expect(try await nodes[1].createFirstKey(name: "default") == nil)
    }
}

@Suite("Cluster events listener", .enabled(if: TestPostgres.isAvailable, "needs NANO_BANANA_TEST_POSTGRES_URL"))
struct PostgresEventsTests {
    @Test("pings stay internal; a killed listening connection is replaced and resynchronised")
    func reconnects() async throws {
        let schema = TestPostgres.newSchemaName()
        let database = try await TestPostgres.freshDatabase(schema: schema)
        let heard = Mutex<[String]>([])
        let (connected, connection) = AsyncStream<Void>.makeStream()
        let events = PostgresEvents(
            database: database,
            handlers: .init(
                jobQueued: { heard.withLock { $0.append("queued") } }, jobFinished: { _ in },
                keysChanged: { heard.withLock { $0.append("keys") } }, resynchronize: { connection.yield() }),
            pingInterval: .milliseconds(100), pingTimeout: .seconds(2))
        let listener = Task { await events.run() }
        defer { listener.cancel() }
        var iterator = connected.makeAsyncIterator()
        _ = await iterator.next()
        try await Task.sleep(for: .milliseconds(500))  // a few pings, none of them an event
        #expect(heard.withLock { $0 }.isEmpty)

        // An operator (or a failover) ends the listening backend: the listener comes back.
        let other = try await TestPostgres.freshDatabase(schema: schema)
        _ = try await other.withConnection { connection in
            try await connection.rows(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE \("LISTEN%" + schema + "%")",
                logger: Logger(label: "t")
            ).count
        }
        _ = await iterator.next()
        _ = try await PostgresJobStore(database: other).enqueue(newJob("after-reconnect"))
        for _ in 0..<100 where heard.withLock({ $0 }).isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        #expect(heard.withLock { $0 } == ["queued"])
    }
}
