import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Revoking or disabling a key withdraws its queued jobs, for every store")
struct KeyCancellationTests {
    func job(_ id: String, key: String) -> NewJob {
        NewJob(id: id, keyID: key, model: "m", parameters: #"{"prompt":"x"}"#, seed: 1, maxAttempts: 3, cost: 10)
    }

    @Test(
        "revoking FAILS the key's QUEUED jobs as cancelled and refunds them; a PROCESSING one may finish",
        arguments: TestBackend.all)
    func revoke(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k", credits: 100).key
        let other = try await stores.keys.create(name: "other", credits: 100).key
        for id in ["running", "waiting1", "waiting2"] { _ = try await stores.jobs.enqueue(job(id, key: key.id)) }
        _ = try await stores.jobs.enqueue(job("bystander", key: other.id))
        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.id == "running")
        #expect(try await stores.keys.balance(keyID: key.id) == 70)

        _ = try await stores.keys.revoke("k")
        for id in ["waiting1", "waiting2"] {
            let cancelled = try #require(try await stores.jobs.job(id: id))
            #expect(cancelled.status == .failed)
            #expect(cancelled.state.error == "cancelled: the API key was revoked")
            #expect(cancelled.state.failureCode == .cancelled)
            #expect(cancelled.completedAt != nil)
        }
        #expect(try await stores.keys.balance(keyID: key.id) == 90)
        #expect(try await stores.integer("SELECT count(*) FROM job_parameters WHERE id LIKE 'waiting%'") == 0)
        // The running job finishes and is settled; the other key's job is untouched.
        #expect(try await stores.jobs.complete(jobID: "running", worker: "w", output: sampleOutput, image: [1]))
        #expect(try await stores.keys.balance(keyID: key.id) == 90)
        #expect(try await stores.jobs.job(id: "bystander")?.status == .queued)
        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.id == "bystander")
        let ledger = try await stores.keys.show(key.id).ledger
        #expect(ledger.map(\.kind) == [.grant, .reserve, .reserve, .reserve, .refund, .refund, .settle])
        #expect(ledger.reduce(0) { $0 + $1.amount } == 90)
        // Revoking again changes nothing.
        _ = try await stores.keys.revoke(key.id)
        #expect(try await stores.keys.balance(keyID: key.id) == 90)
    }

    @Test(
        "one QUEUED job withdrawn (its v1 client left) FAILS and is refunded; a running or ended one is not",
        arguments: TestBackend.all)
    func cancelOne(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k", credits: 100).key
        for id in ["running", "waiting"] { _ = try await stores.jobs.enqueue(job(id, key: key.id)) }
        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.id == "running")
        #expect(try await stores.jobs.cancelQueued(jobID: "waiting", error: JobState.clientGoneError))
        let cancelled = try #require(try await stores.jobs.job(id: "waiting"))
        #expect(cancelled.status == .failed && cancelled.state.failureCode == .cancelled)
        #expect(cancelled.state.error == JobState.clientGoneError)
        #expect(try await stores.keys.balance(keyID: key.id) == 90)
        #expect(try await !stores.jobs.cancelQueued(jobID: "running", error: "x"))
        #expect(try await !stores.jobs.cancelQueued(jobID: "waiting", error: "x"))
        #expect(try await !stores.jobs.cancelQueued(jobID: "nonexistent", error: "x"))
        #expect(try await stores.keys.balance(keyID: key.id) == 90)
        #expect(try await stores.jobs.job(id: "running")?.status == .processing)
    }

    @Test("disabling FAILS the key's QUEUED jobs as cancelled and refunds them", arguments: TestBackend.all)
    func disable(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k", credits: 100).key
        for id in ["a", "b"] { _ = try await stores.jobs.enqueue(job(id, key: key.id)) }
        // Other changes leave the queue alone.
        _ = try await stores.keys.setLimits("k", requestsPerMinute: 5, burst: nil, maxInFlight: nil)
        #expect(try await stores.jobs.counts() == [.queued: 2])
        _ = try await stores.keys.setAccess("k", role: nil, allowedModels: nil, disabled: true)
        #expect(try await stores.jobs.counts() == [.failed: 2])
        #expect(try await stores.jobs.job(id: "a")?.state.error == "cancelled: the API key was disabled")
        #expect(try await stores.keys.balance(keyID: key.id) == 100)
        // Enabling it again does not bring them back.
        _ = try await stores.keys.setAccess("k", role: nil, allowedModels: nil, disabled: false)
        #expect(try await stores.jobs.claim(worker: "w", lease: 30) == nil)
    }

    @Test(
        "a job enqueued after its key was revoked or disabled (a cached key raced the change) is withdrawn, not run",
        arguments: TestBackend.all)
    func enqueuedAfter(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let revoked = try await stores.keys.create(name: "revoked", credits: 100).key
        let disabled = try await stores.keys.create(name: "disabled", credits: 100).key
        let good = try await stores.keys.create(name: "good", credits: 100).key
        _ = try await stores.keys.revoke("revoked")
        _ = try await stores.keys.setAccess("disabled", role: nil, allowedModels: nil, disabled: true)
        // The submissions were authenticated before the changes; their enqueues come after.
        _ = try await stores.jobs.enqueue(job("late-revoked", key: revoked.id))
        _ = try await stores.jobs.enqueue(job("late-disabled", key: disabled.id))
        _ = try await stores.jobs.enqueue(job("fine", key: good.id))
        _ = try await stores.jobs.enqueue(job("keyless", key: "no-such-key"))

        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.id == "fine")
        let late = try #require(try await stores.jobs.job(id: "late-revoked"))
        #expect(late.status == .failed && late.state.failureCode == .cancelled)
        #expect(late.state.error == "cancelled: the API key was revoked")
        #expect(try await stores.jobs.job(id: "late-disabled")?.state.error == "cancelled: the API key was disabled")
        #expect(try await stores.keys.balance(keyID: revoked.id) == 100)
        #expect(try await stores.keys.balance(keyID: disabled.id) == 100)
        #expect(try await stores.integer("SELECT count(*) FROM job_parameters WHERE id LIKE 'late%'") == 0)
        // A job whose key has no row runs as before.
        #expect(try await stores.jobs.claim(worker: "w", lease: 30)?.id == "keyless")
        #expect(try await stores.jobs.claim(worker: "w", lease: 30) == nil)
    }
}
