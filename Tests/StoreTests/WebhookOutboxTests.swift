import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Webhook outbox, for every store")
struct WebhookOutboxTests {
    static let every = WebhookTarget(url: "https://hooks.example/all", events: [.processing, .completed, .failed])
    static let finals = WebhookTarget(url: "https://hooks.example/final")

    func job(_ id: String, key: String = "key_a", targets: [WebhookTarget]? = [every, finals]) -> NewJob {
        NewJob(
            id: id, keyID: key, model: "m", parameters: "{}", seed: 1, maxAttempts: 3, webhooks: targets)
    }

    func types(_ deliveries: [WebhookDelivery]) -> [String] {
        deliveries.map { "\($0.event.type.rawValue)@\($0.event.url.dropFirst("https://hooks.example/".count))" }
    }

    @Test("a job's targets are stored with it, and its changes write their events", arguments: TestBackend.all)
    func eventsWithChanges(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let queued = try await stores.jobs.enqueue(job("a"))
        #expect(queued.webhooks == [Self.every, Self.finals])
        #expect(try await stores.jobs.job(id: "a")?.webhooks == [Self.every, Self.finals])
        #expect(try await stores.outbox.deliveries(jobID: "a").isEmpty)

        clock.advance(by: 1)
        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.record.webhooks == [Self.every, Self.finals])
        #expect(types(try await stores.outbox.deliveries(jobID: "a")) == ["processing@all"])
        // A renewed lease is no new event.
        #expect(try await stores.jobs.renewLease(jobID: "a", worker: "w", lease: 30))
        clock.advance(by: 1)
        #expect(try await stores.jobs.complete(jobID: "a", worker: "w", output: sampleOutput, image: [1]))
        let deliveries = try await stores.outbox.deliveries(jobID: "a")
        #expect(types(deliveries).sorted() == ["completed@all", "completed@final", "processing@all"])
        for delivery in deliveries {
            #expect(delivery.event.id.hasPrefix("msg_") && delivery.event.id.count == 28)
            #expect(delivery.event.state == .pending && delivery.event.attempts == 0 && delivery.attempts.isEmpty)
            #expect(delivery.event.keyID == "key_a" && delivery.event.payload == nil)
            #expect(delivery.event.nextAttemptAt == delivery.event.createdAt)
        }
        #expect(Set(deliveries.map(\.event.id)).count == 3)
        #expect(deliveries.first { $0.event.type == .completed }?.event.createdAt == clock.now())

        // A job without targets writes nothing.
        _ = try await stores.jobs.enqueue(job("quiet", targets: nil))
        #expect(try await stores.jobs.job(id: "quiet")?.webhooks == nil)
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.jobs.fail(jobID: "quiet", worker: "w", error: "x", code: .internal))
        #expect(try await stores.outbox.deliveries(jobID: "quiet").isEmpty)
    }

    @Test(
        "failures, cancellations and withdrawals by a key's revocation are `failed` events", arguments: TestBackend.all)
    func failedEvents(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k").key
        for id in ["failing", "withdrawn", "revoked"] {
            _ = try await stores.jobs.enqueue(job(id, key: key.id, targets: [Self.finals]))
        }
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.jobs.fail(jobID: "failing", worker: "w", error: "no", code: .contentBlocked))
        #expect(try await stores.jobs.cancelQueued(jobID: "withdrawn", error: JobState.clientGoneError))
        _ = try await stores.keys.revoke(key.id)
        for id in ["failing", "withdrawn", "revoked"] {
            #expect(types(try await stores.outbox.deliveries(jobID: id)) == ["failed@final"])
        }
    }

    @Test(
        "claims take due events once each; a lease that runs out lets an event come due again",
        arguments: TestBackend.all)
    func claims(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        _ = try await stores.jobs.enqueue(job("a", targets: [Self.finals]))
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.outbox.nextDue() == nil)
        #expect(try await stores.outbox.claimDue(limit: 10, lease: 40).isEmpty)
        #expect(try await stores.jobs.complete(jobID: "a", worker: "w", output: sampleOutput, image: [1]))
        #expect(try await stores.outbox.nextDue() == clock.now())

        let first = try await stores.outbox.claimDue(limit: 10, lease: 40)
        #expect(first.count == 1)
        let event = try #require(first.first)
        #expect(event.attempts == 1 && event.type == .completed && event.jobID == "a")
        #expect(event.nextAttemptAt == clock.now().addingTimeInterval(40))
        #expect(try await stores.outbox.claimDue(limit: 10, lease: 40).isEmpty)

        // The deliverer died: the event comes due again, as attempt 2; the late first
        // deliverer's record is refused.
        clock.advance(by: 41)
        #expect(try await stores.outbox.claimDue(limit: 10, lease: 40).map(\.attempts) == [2])
        let late = WebhookAttempt(
            eventID: event.id, number: 1, at: clock.now(), statusCode: 200, error: nil, latencyMilliseconds: 5)
        #expect(try await !stores.outbox.record(late, payload: "late", state: .delivered, nextAttemptAt: nil))

        // Attempt 2 fails and waits for its retry; attempt 3 is delivered.
        var attempt = late
        attempt.number = 2
        attempt.statusCode = 503
        let retry = clock.now().addingTimeInterval(5)
        #expect(try await stores.outbox.record(attempt, payload: "{\"a\":1}", state: .pending, nextAttemptAt: retry))
        #expect(try await stores.outbox.nextDue() == retry)
        #expect(try await stores.outbox.claimDue(limit: 10, lease: 40).isEmpty)
        clock.advance(by: 5)
        #expect(try await stores.outbox.claimDue(limit: 10, lease: 40).map(\.payload) == ["{\"a\":1}"])
        attempt.number = 3
        attempt.statusCode = 204
        #expect(try await stores.outbox.record(attempt, payload: "other", state: .delivered, nextAttemptAt: retry))
        #expect(try await stores.outbox.nextDue() == nil)

        let delivery = try #require(try await stores.outbox.deliveries(jobID: "a").first)
        #expect(delivery.event.state == .delivered && delivery.event.attempts == 3)
        #expect(delivery.event.nextAttemptAt == nil)
        #expect(delivery.event.payload == "{\"a\":1}")
        #expect(delivery.attempts.map(\.number) == [2, 3])
        #expect(delivery.attempts.map(\.statusCode) == [503, 204])
    }

    @Test("claims respect the limit and take the oldest first", arguments: TestBackend.all)
    func claimOrder(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        for id in ["a", "b", "c"] {
            _ = try await stores.jobs.enqueue(job(id, targets: [Self.finals]))
            _ = try await stores.jobs.claim(worker: "w", lease: 30)
            #expect(try await stores.jobs.fail(jobID: id, worker: "w", error: "x", code: .internal))
            clock.advance(by: 1)
        }
        #expect(try await stores.outbox.claimDue(limit: 2, lease: 30).map(\.jobID) == ["a", "b"])
        #expect(try await stores.outbox.claimDue(limit: 2, lease: 30).map(\.jobID) == ["c"])
    }

    @Test("redelivery makes the final events due again with the same id", arguments: TestBackend.all)
    func redeliver(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        _ = try await stores.jobs.enqueue(job("a", targets: [Self.every]))
        #expect(try await stores.outbox.redeliver(jobID: "a").isEmpty)
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.outbox.redeliver(jobID: "a").isEmpty)
        #expect(try await stores.jobs.complete(jobID: "a", worker: "w", output: sampleOutput, image: [1]))
        for event in try await stores.outbox.claimDue(limit: 10, lease: 30) {
            let attempt = WebhookAttempt(
                eventID: event.id, number: event.attempts, at: clock.now(), statusCode: 410, error: nil,
                latencyMilliseconds: 1)
            #expect(try await stores.outbox.record(attempt, payload: "p", state: .gone, nextAttemptAt: nil))
        }
        clock.advance(by: 60)
        let again = try await stores.outbox.redeliver(jobID: "a")
        #expect(again.map(\.type) == [.completed])
        #expect(again.first?.state == .pending && again.first?.nextAttemptAt == clock.now())
        let claimed = try await stores.outbox.claimDue(limit: 10, lease: 30)
        #expect(claimed.map(\.id) == again.map(\.id))
        #expect(claimed.first?.attempts == 2 && claimed.first?.payload == "p")
        #expect(try await stores.outbox.redeliver(jobID: "unknown").isEmpty)
    }

    @Test("retention deletes a job's finished events with it; pending ones finish first", arguments: TestBackend.all)
    func retention(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        for id in ["delivered", "pending"] {
            _ = try await stores.jobs.enqueue(job(id, targets: [Self.finals]))
            _ = try await stores.jobs.claim(worker: "w", lease: 30)
            #expect(try await stores.jobs.complete(jobID: id, worker: "w", output: sampleOutput, image: [1]))
        }
        let claimed = try await stores.outbox.claimDue(limit: 10, lease: 30)
        #expect(claimed.count == 2)
        for event in claimed {
            let attempt = WebhookAttempt(
                eventID: event.id, number: 1, at: clock.now(), statusCode: event.jobID == "delivered" ? 200 : 500,
                error: nil, latencyMilliseconds: 1)
            #expect(
                try await stores.outbox.record(
                    attempt, payload: "p", state: event.jobID == "delivered" ? .delivered : .pending,
                    nextAttemptAt: clock.now().addingTimeInterval(3600)))
        }
        clock.advance(by: 100)
        #expect(try await stores.jobs.deleteFinished(before: clock.now(), limit: 10).count == 2)
        #expect(try await stores.outbox.deliveries(jobID: "delivered").isEmpty)
        #expect(try await stores.integer("SELECT count(*) FROM webhook_attempts") == 1)
        let pending = try await stores.outbox.deliveries(jobID: "pending")
        #expect(pending.map(\.event.state) == [.pending])
        // It finishes its retries, and the next sweep takes it.
        clock.advance(by: 3600)
        let retried = try #require(try await stores.outbox.claimDue(limit: 10, lease: 30).first)
        let attempt = WebhookAttempt(
            eventID: retried.id, number: 2, at: clock.now(), statusCode: 200, error: nil, latencyMilliseconds: 1)
        #expect(try await stores.outbox.record(attempt, payload: nil, state: .delivered, nextAttemptAt: nil))
        _ = try await stores.jobs.deleteFinished(before: clock.now(), limit: 10)
        #expect(try await stores.integer("SELECT count(*) FROM webhook_events") == 0)
        #expect(try await stores.integer("SELECT count(*) FROM webhook_attempts") == 0)
    }
}

@Suite("Webhook registry and secrets, for every store")
struct WebhookRegistryTests {
    @Test("a key's webhooks: add, update, deactivate, list; another key's id is not found", arguments: TestBackend.all)
    func registry(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let created = try await stores.keys.create(name: "k")
        let other = try await stores.keys.create(name: "other").key
        let before = stores.keys.changeToken()
        let added = try await stores.registry.addWebhook(
            keyID: created.key.id, url: "https://a.example/h", events: [.processing, .completed, .processing])
        #expect(added.id.hasPrefix("wh_") && added.active && added.events == [.processing, .completed])
        let second = try await stores.registry.addWebhook(keyID: created.key.id, url: "http://b.example", events: [])
        #expect(second.events == [.completed, .failed])
        #expect(stores.keys.changeToken() != before)
        #expect(try await stores.registry.webhooks(keyID: created.key.id) == [added, second])

        let key = try #require(try await stores.keys.authenticate(secret: created.secret))
        #expect(key.webhooks == [added, second])
        #expect(key.defaultWebhookTargets.map(\.url) == ["https://a.example/h", "http://b.example"])

        let updated = try await stores.registry.updateWebhook(
            keyID: created.key.id, id: added.id, url: "https://c.example", events: [.failed], active: nil)
        #expect(updated.url == "https://c.example" && updated.events == [.failed] && updated.active)
        _ = try await stores.registry.updateWebhook(
            keyID: created.key.id, id: second.id, url: nil, events: nil, active: false)
        let reread = try #require(try await stores.keys.authenticate(secret: created.secret))
        #expect(reread.defaultWebhookTargets == [WebhookTarget(url: "https://c.example", events: [.failed])])

        await #expect(throws: APIKeyError.webhookNotFound(added.id)) {
            try await stores.registry.updateWebhook(keyID: other.id, id: added.id, url: nil, events: nil, active: false)
        }
        await #expect(throws: APIKeyError.self) {
            try await stores.registry.addWebhook(keyID: created.key.id, url: "ftp://x.example", events: [])
        }
        #expect(try await stores.registry.webhooks(keyID: other.id).isEmpty)
    }

    @Test("keys create/update --webhook replaces the active webhooks; empty clears", arguments: TestBackend.all)
    func defaultWebhook(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let created = try await stores.keys.create(APIKeySpec(name: "k", webhookURL: "https://a.example/h"))
        #expect(created.key.defaultWebhookTargets == [WebhookTarget(url: "https://a.example/h")])
        let changed = try await stores.keys.update("k", APIKeyChange(webhookURL: .some("https://b.example/h")))
        #expect(changed.defaultWebhookTargets == [WebhookTarget(url: "https://b.example/h")])
        #expect(changed.webhooks.count == 2)
        #expect(try await stores.keys.show("k").key.webhooks == changed.webhooks)
        let cleared = try await stores.keys.update("k", APIKeyChange(webhookURL: .some(nil)))
        #expect(cleared.defaultWebhookTargets.isEmpty)
        // Other changes leave the webhooks alone.
        let limited = try await stores.keys.setLimits("k", requestsPerMinute: 5, burst: nil, maxInFlight: nil)
        #expect(limited.webhooks == cleared.webhooks)
        await #expect(throws: APIKeyError.self) {
            try await stores.keys.update("k", APIKeyChange(webhookURL: .some("not a url")))
        }
        await #expect(throws: APIKeyError.self) {
            try await stores.keys.create(
                APIKeySpec(name: "bad", webhookURL: "https://" + String(repeating: "a", count: 2048)))
        }
    }

    @Test("a key's signing secret is made once, kept, and rotated on demand", arguments: TestBackend.all)
    func secret(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k").key
        let secret = try await stores.registry.webhookSecret(key.id, rotate: false)
        #expect(secret.hasPrefix("whsec_"))
        #expect(WebhookSecret.keyBytes(secret)?.count == 32)
        #expect(try await stores.registry.webhookSecret("k", rotate: false) == secret)
        let rotated = try await stores.registry.webhookSecret("k", rotate: true)
        #expect(rotated != secret && rotated.hasPrefix("whsec_"))
        #expect(try await stores.registry.webhookSecret(key.id, rotate: false) == rotated)
        await #expect(throws: APIKeyError.notFound("nobody")) {
            try await stores.registry.webhookSecret("nobody", rotate: false)
        }
    }
}

@Suite(
    "Webhook outbox on a PostgreSQL cluster",
    .enabled(if: TestPostgres.isAvailable, "needs NANO_BANANA_TEST_POSTGRES_URL"))
struct PostgresOutboxClusterTests {
    @Test("two nodes claiming at once never take the same event")
    func noDoubleClaims() async throws {
        let schema = TestPostgres.newSchemaName()
        let nodes = [
            PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema)),
            PostgresJobStore(database: try await TestPostgres.freshDatabase(schema: schema)),
        ]
        let target = WebhookTarget(url: "https://hooks.example/final")
        for index in 0..<40 {
            _ = try await nodes[0].enqueue(
                NewJob(
                    id: "j\(index)", keyID: "k", model: "m", parameters: "{}", seed: 1, maxAttempts: 1,
                    webhooks: [target]))
            _ = try await nodes[0].claim(worker: "w", lease: 30)
            #expect(try await nodes[0].fail(jobID: "j\(index)", worker: "w", error: "x", code: .internal))
        }
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for node in nodes {
                group.addTask {
                    var ids: [String] = []
                    while true {
                        let batch = try await node.claimDue(limit: 3, lease: 60)
                        if batch.isEmpty { return ids }
                        ids += batch.map(\.id)
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 40)
        #expect(Set(claimed).count == 40)
    }
}
