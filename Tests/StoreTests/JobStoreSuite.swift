import Foundation
import GRDB
import NanoBananaAPI
import TestSupport
import Testing

@testable import Store

func newJob(_ id: String = UUID().uuidString, key: String = "key_a", maxAttempts: Int = 3) -> NewJob {
    NewJob(
        id: id, keyID: key, model: "nano-banana-2", parameters: #"{"prompt":"x"}"#, seed: 7, maxAttempts: maxAttempts)
}

let sampleOutput = JobOutput(
    blobKey: "j.jpg", format: .jpg, width: 1024, height: 1024, text: "hi", engine: "preview", inferenceTime: 0.5)

@Suite("JobStore contract, for every store")
struct JobStoreSuite {
    @Test("jobs are claimed oldest first, each by one worker", arguments: TestBackend.all)
    func fifoClaims(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        for id in ["a", "b", "c"] { _ = try await store.enqueue(newJob(id)) }
        let first = try await store.claim(worker: "w1", lease: 30)
        let second = try await store.claim(worker: "w2", lease: 30)
        #expect(first?.id == "a")
        #expect(second?.id == "b")
        #expect(first?.record.status == .processing)
        #expect(first?.parameters == #"{"prompt":"x"}"#)
        #expect(first?.record.seed == 7)
        #expect(try await store.claim(worker: "w3", lease: 30)?.id == "c")
        #expect(try await store.claim(worker: "w4", lease: 30) == nil)
    }

    @Test("queue position counts the QUEUED jobs ahead", arguments: TestBackend.all)
    func queuePosition(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        var jobs: [JobRecord] = []
        for id in ["a", "b", "c"] { jobs.append(try await store.enqueue(newJob(id))) }
        #expect(try await store.queuePosition(of: jobs[2]) == 3)
        _ = try await store.claim(worker: "w", lease: 30)
        #expect(try await store.queuePosition(of: jobs[2]) == 2)
        let claimed = try #require(try await store.job(id: "a"))
        #expect(try await store.queuePosition(of: claimed) == nil)
    }

    @Test("complete stores the output once, only for the lease holder", arguments: TestBackend.all)
    func complete(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.stores(clock: clock).jobs
        _ = try await store.enqueue(newJob("a"))
        _ = try await store.claim(worker: "w1", lease: 30)
        #expect(try await !store.complete(jobID: "a", worker: "intruder", output: sampleOutput, image: [1, 2, 3]))
        clock.advance(by: 2)
        #expect(try await store.complete(jobID: "a", worker: "w1", output: sampleOutput, image: [1, 2, 3]))
        #expect(try await !store.complete(jobID: "a", worker: "w1", output: sampleOutput, image: [1, 2, 3]))
        let job = try #require(try await store.job(id: "a"))
        #expect(job.status == .completed)
        #expect(job.output == sampleOutput)
        #expect(try await store.image(key: sampleOutput.blobKey) == [1, 2, 3])
        #expect(job.completedAt == clock.now())
        #expect(job.totalTime(now: clock.now()) == 2)
    }

    @Test("fail records the error and the completion time", arguments: TestBackend.all)
    func fail(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        _ = try await store.enqueue(newJob("a"))
        _ = try await store.claim(worker: "w1", lease: 30)
        #expect(try await store.fail(jobID: "a", worker: "w1", error: "Content blocked: x", code: .contentBlocked))
        let job = try #require(try await store.job(id: "a"))
        #expect(job.status == .failed)
        #expect(job.state.error == "Content blocked: x")
        #expect(job.state.failureCode == .contentBlocked)
        #expect(job.completedAt != nil)
        #expect(job.output == nil)
    }

    @Test(
        "a dead worker's job is claimed again after its lease, then failed past its attempts",
        arguments: TestBackend.all)
    func leaseRecovery(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.stores(clock: clock).jobs
        _ = try await store.enqueue(newJob("a", maxAttempts: 2))
        _ = try await store.claim(worker: "dead1", lease: 10)
        clock.advance(by: 5)
        #expect(try await store.claim(worker: "w2", lease: 10) == nil)
        clock.advance(by: 5)
        let again = try #require(try await store.claim(worker: "dead2", lease: 10))
        #expect(again.id == "a")
        #expect(again.record.state.attempts == 2)
        #expect(try await !store.complete(jobID: "a", worker: "dead1", output: sampleOutput, image: [1, 2, 3]))
        clock.advance(by: 11)
        #expect(try await store.claim(worker: "w3", lease: 10) == nil)
        let job = try #require(try await store.job(id: "a"))
        #expect(job.status == .failed)
        #expect(job.state.error == JobState.workerLostError(attempts: 2))
        #expect(job.state.failureCode == .workerLost)
    }

    @Test("the submitting request's id is kept with the job and read back with it", arguments: TestBackend.all)
    func httpRequestID(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        var traced = newJob("a")
        traced.httpRequestID = "client-req-1"
        #expect(try await store.enqueue(traced).httpRequestID == "client-req-1")
        #expect(try await store.enqueue(newJob("b")).httpRequestID == nil)
        #expect(try await store.job(id: "a")?.httpRequestID == "client-req-1")
        #expect(try await store.job(id: "b")?.httpRequestID == nil)
        let claimed = try #require(try await store.claim(worker: "w", lease: 30))
        #expect(claimed.record.httpRequestID == "client-req-1")
        let (completed, next) = try await store.complete(
            jobID: "a", worker: "w", output: sampleOutput, image: [1], claimingNextFor: 30)
        #expect(completed && next?.id == "b" && next?.record.httpRequestID == nil)
        #expect(try await store.job(id: "a")?.httpRequestID == "client-req-1")
    }

    @Test(
        "what a store changes on its own is logged with the job's id and its request's id, once committed",
        arguments: TestBackend.all)
    func storeChangesLogged(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let lines = LogRecorder()
        let stores = try await backend.stores(clock: clock, logger: lines.logger(label: "store-test"))
        let key = try await stores.keys.create(name: "k").key
        for (id, attempts) in [("a", 1), ("c", 3)] {
            var job = newJob(id, maxAttempts: attempts)
            job.httpRequestID = "req-" + id
            _ = try await stores.jobs.enqueue(job)
            _ = try await stores.jobs.claim(worker: "dead", lease: 10)
        }
        var waiting = newJob("b", key: key.id)
        waiting.httpRequestID = "req-b"
        _ = try await stores.jobs.enqueue(waiting)
        _ = try await stores.keys.revoke(key.id)
        #expect(lines.logged.filter { $0["job_event"] != nil }.count == 1)
        clock.advance(by: 11)
        #expect(try await stores.jobs.claim(worker: "w", lease: 10)?.id == "c")

        let byJob = Dictionary(
            lines.logged.filter { $0["job_event"] != nil }.map { ($0["job_id"] ?? "", $0) },
            uniquingKeysWith: { a, _ in a })
        #expect(byJob.mapValues { $0["job_event"] ?? "" } == ["a": "failed", "b": "cancelled", "c": "lease_expired"])
        #expect(byJob.mapValues { $0["request_id"] ?? "" } == ["a": "req-a", "b": "req-b", "c": "req-c"])
        #expect(byJob["b"]?["failure_code"] == "cancelled" && byJob["b"]?["key_id"] == key.id)
        #expect(byJob["a"]?["failure_code"] == "worker_lost" && byJob["a"]?["attempt"] == "1")
        #expect(byJob["a"]?["error"] == JobState.workerLostError(attempts: 1))
        #expect(byJob["c"]?["attempt"] == "1" && byJob["c"]?.level == .warning)
    }

    @Test("renewing the lease keeps the job", arguments: TestBackend.all)
    func renew(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.stores(clock: clock).jobs
        _ = try await store.enqueue(newJob("a"))
        _ = try await store.claim(worker: "w1", lease: 10)
        clock.advance(by: 8)
        #expect(try await store.renewLease(jobID: "a", worker: "w1", lease: 10))
        clock.advance(by: 8)
        #expect(try await store.claim(worker: "w2", lease: 10) == nil)
        #expect(try await store.complete(jobID: "a", worker: "w1", output: sampleOutput, image: [1, 2, 3]))
    }

    @Test("release and expireAllLeases put jobs back in the queue", arguments: TestBackend.all)
    func releaseAndRecover(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        _ = try await store.enqueue(newJob("a"))
        _ = try await store.enqueue(newJob("b"))
        _ = try await store.claim(worker: "w1", lease: 60)
        _ = try await store.claim(worker: "w1", lease: 60)
        #expect(try await store.release(jobID: "a", worker: "w1"))
        #expect(try await store.job(id: "a")?.status == .queued)
        #expect(try await store.expireAllLeases() == 1)
        let reclaimed = [
            try await store.claim(worker: "w2", lease: 60)?.id, try await store.claim(worker: "w2", lease: 60)?.id,
        ]
        #expect(Set(reclaimed.compactMap { $0 }) == ["a", "b"])
    }

    @Test("finished jobs older than the cutoff are deleted and returned", arguments: TestBackend.all)
    func deleteFinished(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.stores(clock: clock).jobs
        for id in ["old", "new", "waiting"] { _ = try await store.enqueue(newJob(id)) }
        _ = try await store.claim(worker: "w", lease: 60)
        #expect(try await store.complete(jobID: "old", worker: "w", output: sampleOutput, image: [1, 2, 3]))
        clock.advance(by: 100)
        _ = try await store.claim(worker: "w", lease: 60)
        #expect(try await store.fail(jobID: "new", worker: "w", error: "x", code: .contentBlocked))
        let removed = try await store.deleteFinished(before: clock.now().addingTimeInterval(-50), limit: 10)
        #expect(removed.map(\.id) == ["old"])
        #expect(removed.first?.output?.blobKey == "j.jpg")
        #expect(try await store.job(id: "old") == nil)
        #expect(try await store.image(key: "j.jpg") == nil)
        #expect(try await store.job(id: "new") != nil)
        #expect(try await store.counts() == [.failed: 1, .queued: 1])
    }

    @Test(
        "a job's parameters go when it ends (completed, failed, abandoned) and stay while it may run again",
        arguments: TestBackend.all)
    func parametersDropped(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let store = stores.jobs
        let big = #"{"prompt":"x","image_urls":["data:image/png;base64,\#(String(repeating: "A", count: 100_000))"]}"#
        for id in ["done", "failed", "abandoned", "released"] {
            _ = try await store.enqueue(
                NewJob(id: id, keyID: "k", model: "m", parameters: big, seed: 1, maxAttempts: id == "abandoned" ? 1 : 3)
            )
        }
        #expect(try await store.claim(worker: "w", lease: 30)?.parameters == big)
        #expect(try await store.complete(jobID: "done", worker: "w", output: sampleOutput, image: [1]))
        _ = try await store.claim(worker: "w", lease: 30)
        #expect(try await store.fail(jobID: "failed", worker: "w", error: "x", code: .contentBlocked))
        _ = try await store.claim(worker: "dead", lease: 5)
        _ = try await store.claim(worker: "w", lease: 30)
        #expect(try await store.release(jobID: "released", worker: "w"))
        clock.advance(by: 6)
        // The sweep that fails the abandoned job comes with this claim, which gets the released one back, whole.
        #expect(try await store.claim(worker: "w", lease: 30)?.parameters == big)
        #expect(try await store.job(id: "abandoned")?.status == .failed)
        #expect(try await stores.integer("SELECT count(*) FROM job_parameters") == 1)
        #expect(try await stores.integer("SELECT count(*) FROM job_parameters WHERE id = 'released'") == 1)
    }

    @Test("concurrent workers never claim the same job twice", arguments: TestBackend.all)
    func concurrentClaims(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        for index in 0..<100 { _ = try await store.enqueue(newJob("job-\(index)")) }
        let claimed = try await withThrowingTaskGroup(of: [String].self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mine: [String] = []
                    while let job = try await store.claim(worker: "w\(worker)", lease: 60) { mine.append(job.id) }
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(claimed.count == 100)
        #expect(Set(claimed).count == 100)
    }
}

@Suite("SQLite job store")
struct SQLiteJobStoreTests {
    @Test("parameters are kept apart from the job row and dropped once the job is finished")
    func parametersLifecycle() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nb-params-\(UUID().uuidString).sqlite"
        ).path
        let database = try SQLiteDatabase(path: path)
        let store = SQLiteJobStore(database: database, clock: ManualWallClock())
        let big = #"{"prompt":"x","image_urls":["data:image/png;base64,\#(String(repeating: "A", count: 1_000_000))"]}"#
        _ = try await store.enqueue(NewJob(id: "a", keyID: "k", model: "m", parameters: big, seed: 1, maxAttempts: 3))
        _ = try await store.enqueue(newJob("b"))
        let claimed = try #require(try await store.claim(worker: "w", lease: 30))
        #expect(claimed.parameters == big)
        #expect(try await store.complete(jobID: "a", worker: "w", output: sampleOutput, image: [1]))
        _ = try await store.claim(worker: "w", lease: 30)
        #expect(try await store.fail(jobID: "b", worker: "w", error: "x", code: .contentBlocked))
        let left = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job_parameters")
        }
        #expect(left == 0)
    }
}

@Suite("Complete and claim the next job")
struct CompleteAndClaimTests {
    @Test("completing can claim the next job in the same step", arguments: TestBackend.all)
    func completeThenClaim(backend: TestBackend) async throws {
        let store = try await backend.stores(clock: ManualWallClock()).jobs
        _ = try await store.enqueue(newJob("a"))
        _ = try await store.enqueue(newJob("b"))
        _ = try await store.claim(worker: "w", lease: 30)
        let (completed, next) = try await store.complete(
            jobID: "a", worker: "w", output: sampleOutput, image: [9], claimingNextFor: 30)
        #expect(completed)
        #expect(next?.id == "b")
        #expect(next?.record.status == .processing)
        #expect(try await store.job(id: "a")?.status == .completed)
        let (_, none) = try await store.complete(
            jobID: "b", worker: "w", output: sampleOutput, image: [9], claimingNextFor: 30)
        #expect(none == nil)
    }
}
