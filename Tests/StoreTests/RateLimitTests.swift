import Foundation
import Testing

@testable import Store

@Suite("Rate limits")
struct RateLimitTests {
    let t0 = Date(timeIntervalSince1970: 1000)

    @Test("a bucket gives its burst, then one token per 60/rpm seconds")
    func bucket() {
        var bucket = TokenBucket.full(burst: 3, at: t0)
        for _ in 0..<3 { #expect(bucket.take(now: t0, perMinute: 60, burst: 3) == nil) }
        let wait = bucket.take(now: t0, perMinute: 60, burst: 3)
        #expect(wait == 1)
        #expect(bucket.take(now: t0.addingTimeInterval(0.5), perMinute: 60, burst: 3) == 0.5)
        #expect(bucket.take(now: t0.addingTimeInterval(1), perMinute: 60, burst: 3) == nil)
        // A long pause refills no more than the burst.
        for _ in 0..<3 { #expect(bucket.take(now: t0.addingTimeInterval(100), perMinute: 60, burst: 3) == nil) }
        #expect(bucket.take(now: t0.addingTimeInterval(100), perMinute: 60, burst: 3) != nil)
    }

    func fixture(_ backend: TestBackend) async throws -> (any JobStore, any APIKeyStore, ManualWallClock) {
        let clock = ManualWallClock(t0)
        let stores = try await backend.stores(clock: clock)
        return (stores.jobs, stores.keys, clock)
    }

    func job(_ id: String, key: String, limits: SubmitLimits) -> NewJob {
        NewJob(id: id, keyID: key, model: "m", parameters: "{}", seed: 1, maxAttempts: 1, limits: limits)
    }

    @Test("a key's rate and burst hold in the store and refill with the clock", arguments: TestBackend.all)
    func perKeyRate(backend: TestBackend) async throws {
        let (jobs, keys, clock) = try await fixture(backend)
        let key = try await keys.create(name: "k").key
        let defaults = SubmitLimits(perMinute: 30, burst: 2, maxInFlight: 0, maxQueueLength: 0)
        _ = try await jobs.enqueue(job("a", key: key.id, limits: defaults))
        _ = try await jobs.enqueue(job("b", key: key.id, limits: defaults))
        await #expect(throws: RateLimited(limit: .requestsPerMinute, value: 30, retryAfter: 2)) {
            try await jobs.enqueue(job("c", key: key.id, limits: defaults))
        }
        clock.advance(by: 2)
        _ = try await jobs.enqueue(job("c", key: key.id, limits: defaults))
        #expect(try await jobs.counts() == [.queued: 3])
    }

    @Test("jobs in flight per key and the global queue length are capped", arguments: TestBackend.all)
    func inFlightAndQueue(backend: TestBackend) async throws {
        let (jobs, keys, _) = try await fixture(backend)
        let key = try await keys.create(name: "k").key
        let other = try await keys.create(name: "other").key
        let limits = SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 2, maxQueueLength: 3)
        _ = try await jobs.enqueue(job("a", key: key.id, limits: limits))
        _ = try await jobs.enqueue(job("b", key: key.id, limits: limits))
        await #expect(throws: RateLimited(limit: .inFlight, value: 2, retryAfter: 1)) {
            try await jobs.enqueue(job("c", key: key.id, limits: limits))
        }
        _ = try await jobs.enqueue(job("d", key: other.id, limits: limits))
        await #expect(throws: RateLimited(limit: .queueLength, value: 3, retryAfter: 5)) {
            try await jobs.enqueue(job("e", key: other.id, limits: limits))
        }
        // Finishing a job frees its key's slot.
        _ = try await jobs.claim(worker: "w", lease: 30)
        #expect(try await jobs.fail(jobID: "a", worker: "w", error: "x", code: .internal))
        _ = try await jobs.enqueue(job("c", key: key.id, limits: limits))
    }

    @Test("the bytes of a key's QUEUED jobs are capped, its own submission included", arguments: TestBackend.all)
    func queuedBytes(backend: TestBackend) async throws {
        let (jobs, keys, _) = try await fixture(backend)
        let key = try await keys.create(name: "k").key
        let other = try await keys.create(name: "other").key
        let limits = SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 0, maxQueuedBytes: 1000)
        func sized(_ id: String, _ key: String, bytes: Int) -> NewJob {
            let parameters = #"{"prompt":""# + String(repeating: "p", count: bytes - 13) + #""}"#
            #expect(parameters.utf8.count == bytes)
            return NewJob(
                id: id, keyID: key, model: "m", parameters: parameters, seed: 1, maxAttempts: 1, limits: limits)
        }
        _ = try await jobs.enqueue(sized("a", key.id, bytes: 600))
        _ = try await jobs.enqueue(sized("b", key.id, bytes: 400))
        await #expect(throws: RateLimited(limit: .queuedBytes, value: 1000, retryAfter: 5)) {
            try await jobs.enqueue(sized("c", key.id, bytes: 20))
        }
        await #expect(throws: RateLimited(limit: .queuedBytes, value: 1000, retryAfter: 5)) {
            try await jobs.enqueue(sized("big", other.id, bytes: 1001))
        }
        // Another key has a budget of its own; a job a worker took no longer counts.
        _ = try await jobs.enqueue(sized("d", other.id, bytes: 1000))
        #expect(try await jobs.claim(worker: "w", lease: 30)?.id == "a")
        _ = try await jobs.enqueue(sized("c", key.id, bytes: 600))
        #expect(try await jobs.counts() == [.queued: 3, .processing: 1])
    }
}
