import Foundation
import NanoBananaAPI
import Testing

@testable import Store

/// Idempotent submits, for every store: a key's record is written with its job, replays the
/// job for the same request, refuses another, and ends with its window or its job.
@Suite("Idempotent submits, for every store")
struct IdempotencyTests {
    struct Fixture {
        let jobs: any JobStore
        let keys: any APIKeyStore
        let stores: TestStores
        let clock: ManualWallClock

        static func make(_ backend: TestBackend) async throws -> Fixture {
            let clock = ManualWallClock()
            let stores = try await backend.stores(clock: clock)
            return Fixture(jobs: stores.jobs, keys: stores.keys, stores: stores, clock: clock)
        }

        func job(_ id: String = UUID().uuidString, key: String, cost: Int = 0) -> NewJob {
            NewJob(id: id, keyID: key, model: "m", parameters: #"{"prompt":"x"}"#, seed: 1, maxAttempts: 2, cost: cost)
        }

        func submit(
            _ key: String = "k1", fingerprint: String = "f1", retention: TimeInterval = 3600
        ) throws -> IdempotentSubmit {
            IdempotentSubmit(key: try IdempotencyKey(header: key), fingerprint: fingerprint, retention: retention)
        }

        func records() async throws -> Int {
            try await stores.integer("SELECT count(*) FROM idempotency_keys") ?? -1
        }

        /// Runs the queued job to COMPLETED, or FAILED with `error`.
        func finish(_ id: String, error: String? = nil) async throws {
            let claimed = try #require(try await jobs.claim(worker: "w", lease: 30))
            #expect(claimed.id == id)
            if let error {
                #expect(try await jobs.fail(jobID: id, worker: "w", error: error, code: .contentBlocked))
            } else {
                #expect(try await jobs.complete(jobID: id, worker: "w", output: sampleOutput, image: [1]))
            }
        }
    }

    @Test(
        "the same key and request replay the first job; another request is refused; another API key is apart",
        arguments: TestBackend.all)
    func replayAndMismatch(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let first = try await fixture.jobs.enqueue(fixture.job("a", key: "key_a"), idempotency: fixture.submit())
        #expect(!first.replayed && first.job.id == "a")
        let again = try await fixture.jobs.enqueue(fixture.job("b", key: "key_a"), idempotency: fixture.submit())
        #expect(again.replayed)
        #expect(again.job.id == "a" && again.job.status == .queued)
        await #expect(throws: IdempotencyKeyReused()) {
            try await fixture.jobs.enqueue(
                fixture.job("c", key: "key_a"), idempotency: fixture.submit(fingerprint: "f2"))
        }
        // The same idempotency key under another API key is another key.
        let other = try await fixture.jobs.enqueue(fixture.job("d", key: "key_b"), idempotency: fixture.submit())
        #expect(!other.replayed && other.job.id == "d")
        #expect(try await fixture.jobs.counts() == [.queued: 2])
        #expect(try await fixture.records() == 2)
        // A replay reads the job as it is now, FAILED too.
        try await fixture.finish("a", error: "Content blocked: x")
        let failed = try await fixture.jobs.enqueue(fixture.job("e", key: "key_a"), idempotency: fixture.submit())
        #expect(failed.replayed && failed.job.id == "a")
        #expect(failed.job.status == .failed && failed.job.state.error == "Content blocked: x")
    }

    @Test(
        "50 concurrent submits with one key make one job and one ledger charge", .timeLimit(.minutes(2)),
        arguments: TestBackend.all)
    func concurrentSubmits(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "k", credits: 1000).key
        let submit = try fixture.submit()
        let outcomes = try await withThrowingTaskGroup(of: Enqueued.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await fixture.jobs.enqueue(fixture.job("j\(index)", key: key.id, cost: 7), idempotency: submit)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 50)
        #expect(outcomes.filter { !$0.replayed }.count == 1)
        #expect(Set(outcomes.map(\.job.id)).count == 1)
        #expect(try await fixture.jobs.counts() == [.queued: 1])
        #expect(try await fixture.keys.balance(keyID: key.id) == 993)
        #expect(try await fixture.keys.show(key.id).ledger.map(\.kind) == [.grant, .reserve])
    }

    @Test("a submission refused (insufficient credits) leaves its key free", arguments: TestBackend.all)
    func refusedLeavesNoKey(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "k", credits: 5).key
        await #expect(throws: InsufficientCredits(price: 10, balance: 5)) {
            try await fixture.jobs.enqueue(fixture.job("a", key: key.id, cost: 10), idempotency: fixture.submit())
        }
        #expect(try await fixture.records() == 0)
        _ = try await fixture.keys.topUp(key.id, amount: 5)
        let retried = try await fixture.jobs.enqueue(
            fixture.job("b", key: key.id, cost: 10), idempotency: fixture.submit(fingerprint: "another"))
        #expect(!retried.replayed && retried.job.id == "b")
        #expect(try await fixture.keys.balance(keyID: key.id) == 0)
    }

    @Test(
        "a key is fresh again after 24 hours, or once its job expired or was deleted; the sweep deletes old keys",
        arguments: TestBackend.all)
    func expiry(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        // Kept for the whole window: the job still runs.
        _ = try await fixture.jobs.enqueue(fixture.job("a", key: "key_a"), idempotency: fixture.submit("run"))
        fixture.clock.advance(by: IdempotentSubmit.window - 1)
        #expect(
            try await fixture.jobs.enqueue(fixture.job("a2", key: "key_a"), idempotency: fixture.submit("run"))
                .job.id == "a")
        fixture.clock.advance(by: 1)
        let renewed = try await fixture.jobs.enqueue(
            fixture.job("a3", key: "key_a"), idempotency: fixture.submit("run", fingerprint: "other"))
        #expect(!renewed.replayed && renewed.job.id == "a3")
        #expect(
            try await fixture.jobs.enqueue(
                fixture.job("a4", key: "key_a"), idempotency: fixture.submit("run", fingerprint: "other")
            ).job.id == "a3")

        // A finished job's key lasts as long as the job's result.
        try await fixture.finish("a")
        try await fixture.finish("a3")
        _ = try await fixture.jobs.enqueue(fixture.job("b", key: "key_a"), idempotency: fixture.submit("done"))
        try await fixture.finish("b")
        fixture.clock.advance(by: 3599)
        #expect(
            try await fixture.jobs.enqueue(fixture.job("b2", key: "key_a"), idempotency: fixture.submit("done"))
                .replayed)
        fixture.clock.advance(by: 1)
        let afterResult = try await fixture.jobs.enqueue(
            fixture.job("b3", key: "key_a"), idempotency: fixture.submit("done"))
        #expect(!afterResult.replayed && afterResult.job.id == "b3")

        // A job deleted by retention leaves its key free at once.
        try await fixture.finish("b3")
        _ = try await fixture.jobs.deleteFinished(before: fixture.clock.now().addingTimeInterval(1), limit: 10)
        let afterDelete = try await fixture.jobs.enqueue(
            fixture.job("b4", key: "key_a"), idempotency: fixture.submit("done", fingerprint: "new"))
        #expect(!afterDelete.replayed && afterDelete.job.id == "b4")

        // The sweep deletes the records past 24 hours only: here the first, made a window ago.
        #expect(try await fixture.records() == 2)
        fixture.clock.advance(by: IdempotentSubmit.window - 1800)
        #expect(
            try await fixture.jobs.deleteIdempotencyKeys(
                before: IdempotentSubmit.expiry(now: fixture.clock.now()), limit: 10) == 1)
        #expect(try await fixture.records() == 1)
        fixture.clock.advance(by: IdempotentSubmit.window)
        #expect(
            try await fixture.jobs.deleteIdempotencyKeys(
                before: IdempotentSubmit.expiry(now: fixture.clock.now()), limit: 10) == 1)
        #expect(try await fixture.records() == 0)
    }
}

@Suite(
    "Idempotent submits on a PostgreSQL cluster",
    .enabled(if: TestPostgres.isAvailable, "needs NANO_BANANA_TEST_POSTGRES_URL"))
struct PostgresIdempotencyTests {
    @Test("50 concurrent submits with one key over two nodes make one job and one charge", .timeLimit(.minutes(2)))
    func twoNodes() async throws {
        let schema = TestPostgres.newSchemaName()
        let nodes = [
            PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema)),
            PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema)),
        ]
        let keys = PostgresAPIKeyStore(database: try await TestPostgres.freshDatabase(schema: schema))
        let key = try await keys.create(name: "k", credits: 100).key
        let submit = IdempotentSubmit(key: try IdempotencyKey(header: "once"), fingerprint: "f", retention: 3600)
        let outcomes = try await withThrowingTaskGroup(of: Enqueued.self) { group in
            for index in 0..<50 {
                group.addTask {
                    try await nodes[index % 2].enqueue(
                        NewJob(
                            id: "j\(index)", keyID: key.id, model: "m", parameters: "{}", seed: 1, maxAttempts: 1,
                            cost: 10),
                        idempotency: submit)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0.replayed }.count == 1)
        #expect(Set(outcomes.map(\.job.id)).count == 1)
        #expect(try await nodes[0].counts() == [.queued: 1])
        #expect(try await keys.balance(keyID: key.id) == 90)
        #expect(try await keys.show(key.id).ledger.map(\.kind) == [.grant, .reserve])
    }
}
