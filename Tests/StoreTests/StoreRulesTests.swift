import Foundation
import NanoBananaAPI
import Testing

@testable import Store

/// The rules both stores run, tested once as values, with no store at all.
@Suite("Store rules, as values")
struct StoreRulesTests {
    let now = Date(timeIntervalSince1970: 1000)

    @Test("admission refuses the queue length first, then in flight, then the rate")
    func admissionOrder() throws {
        let admission = SubmitAdmission(
            limits: SubmitLimits(perMinute: 60, burst: 1, maxInFlight: 2, maxQueueLength: 3), now: now)
        #expect(admission.checksKey)
        #expect(throws: RateLimited(limit: .queueLength, value: 3, retryAfter: 5)) {
            try admission.decide(.init(queued: 3, inFlight: 2, bucket: TokenBucket(tokens: 0, updatedAt: now)))
        }
        #expect(throws: RateLimited(limit: .inFlight, value: 2, retryAfter: 1)) {
            try admission.decide(.init(queued: 2, inFlight: 2, bucket: TokenBucket(tokens: 0, updatedAt: now)))
        }
        #expect(throws: RateLimited(limit: .requestsPerMinute, value: 60, retryAfter: 1)) {
            try admission.decide(.init(queued: 2, inFlight: 1, bucket: TokenBucket(tokens: 0, updatedAt: now)))
        }
        // No bucket yet: a full one, less the token this submission takes.
        #expect(try admission.decide(.init()) == TokenBucket(tokens: 0, updatedAt: now))
    }

    @Test("admission counts the queue only when the span of sequence numbers can reach the limit")
    func queueSpan() throws {
        let admission = SubmitAdmission(
            limits: SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 10), now: now)
        #expect(admission.queueCountLimit(span: nil) == nil)
        #expect(admission.queueCountLimit(span: 9) == nil)
        #expect(admission.queueCountLimit(span: 10) == 10)
        let unlimited = SubmitAdmission(
            limits: SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 0), now: now)
        #expect(unlimited.queueCountLimit(span: 1_000_000) == nil)
        #expect(!unlimited.checksKey)
        #expect(try unlimited.decide(.init(queued: 99, inFlight: 99)) == nil)
    }

    @Test("credits: metered submissions reserve, completions settle, failures refund")
    func creditPolicy() throws {
        let job = NewJob(id: "r", keyID: "k", model: "m", parameters: "{}", seed: 1, maxAttempts: 1, cost: 45)
        let reservation = try #require(CreditPolicy.reservation(for: job))
        #expect(
            reservation == CreditMovement(kind: .reserve, amount: -45, requestID: "r", condition: .balanceCovers(45)))
        #expect(CreditPolicy.shortfall(of: reservation, balance: 10) == InsufficientCredits(price: 45, balance: 10))
        #expect(CreditPolicy.shortfall(of: reservation, balance: nil) == nil)
        var unmetered = job
        unmetered.metered = false
        #expect(CreditPolicy.reservation(for: unmetered) == nil)
        var free = job
        free.cost = 0
        #expect(CreditPolicy.reservation(for: free) == nil)

        var record = JobRecord(
            sequence: 1, id: "r", keyID: "k", model: "m", seed: 1, cost: 45, state: JobState(maxAttempts: 1),
            createdAt: now)
        #expect(CreditPolicy.closing(record) == nil)
        record.state.status = .completed
        #expect(CreditPolicy.closing(record)?.kind == .settle)
        #expect(CreditPolicy.closing(record)?.amount == 0)
        record.state.status = .failed
        #expect(
            CreditPolicy.closing(record)
                == CreditMovement(kind: .refund, amount: 45, requestID: "r", condition: .reserved))

        #expect(try CreditPolicy.addition(0, kind: .grant).amount == 0)
        #expect(throws: APIKeyError.invalidAmount(0)) { try CreditPolicy.addition(0, kind: .topUp) }
        #expect(throws: APIKeyError.invalidAmount(-1)) { try CreditPolicy.addition(-1, kind: .grant) }
    }

    @Test("grants and top-ups are bounded, and refused when the balance would pass the maximum")
    func boundedAdditions() throws {
        let top = try CreditPolicy.addition(StoreMaxima.credits, kind: .topUp)
        #expect(top.condition == .balanceStaysWithin(StoreMaxima.credits))
        #expect(throws: APIKeyError.invalidAmount(StoreMaxima.credits + 1)) {
            try CreditPolicy.addition(StoreMaxima.credits + 1, kind: .grant)
        }
        #expect(throws: APIKeyError.invalidAmount(Int.max)) { try CreditPolicy.addition(Int.max, kind: .topUp) }
        let one = try CreditPolicy.addition(1, kind: .topUp)
        #expect(
            CreditPolicy.excess(of: one, balance: StoreMaxima.credits)
                == .balanceTooLarge(balance: StoreMaxima.credits, amount: 1, maximum: StoreMaxima.credits))
        let reservation = CreditMovement(kind: .reserve, amount: -1, requestID: "r", condition: .balanceCovers(1))
        #expect(CreditPolicy.excess(of: reservation, balance: 0) == nil)
        #expect(APIKeyError.invalidAmount(-1).description.contains("at most 1000000000000000"))
        #expect(throws: APIKeyError.invalidLimit(StoreMaxima.limit + 1)) {
            try APIKeyLimits.check([1, StoreMaxima.limit + 1])
        }
    }

    @Test("admission refuses a submission that would take the key's queued bytes past the limit")
    func queuedBytesAdmission() throws {
        let limits = SubmitLimits(perMinute: 0, burst: 0, maxInFlight: 0, maxQueueLength: 0, maxQueuedBytes: 100)
        let admission = SubmitAdmission(limits: limits, now: now, bytes: 40)
        #expect(admission.checksKey)
        #expect(admission.queuedBytesLimit == 100)
        #expect(try admission.decide(.init(queuedBytes: 60)) == nil)
        #expect(throws: RateLimited(limit: .queuedBytes, value: 100, retryAfter: 5)) {
            try admission.decide(.init(queuedBytes: 61))
        }
        var unlimited = limits
        unlimited.maxQueuedBytes = 0
        #expect(SubmitAdmission(limits: unlimited, now: now, bytes: 1 << 40).queuedBytesLimit == nil)
    }

    @Test("only a QUEUED job can be cancelled, and it FAILS as cancelled")
    func cancel() throws {
        var state = JobState(maxAttempts: 3)
        try state.apply(.cancel(error: JobState.cancelledError(keyRevoked: true)))
        #expect(state.status == .failed)
        #expect(state.error == "cancelled: the API key was revoked")
        #expect(state.failureCode == .cancelled)
        var running = JobState(maxAttempts: 3)
        try running.apply(.claim(worker: "w", leaseUntil: now))
        #expect(throws: JobState.Refusal.invalidTransition(from: .processing)) {
            try running.apply(.cancel(error: "x"))
        }
    }

    @Test("a ledger fold stops before the oldest open reservation and leaves a single line alone")
    func ledgerFold() {
        let fold = LedgerFold(cutoff: now)
        #expect(fold.limit(oldestOpenReservation: nil) == Int64.max)
        #expect(fold.limit(oldestOpenReservation: 7) == 7)
        #expect(!fold.folds(lines: 1))
        #expect(fold.folds(lines: 2))
    }

    @Test("a key draft trims its name, makes a fresh id and secret, and keeps only a hash")
    func draft() throws {
        let a = try APIKeyDraft(APIKeySpec(name: "  ops  "), now: now)
        let b = try APIKeyDraft(APIKeySpec(name: "ops"), now: now)
        #expect(a.key.name == "ops")
        #expect(a.key.id != b.key.id)
        #expect(a.key.id.count == 20)
        #expect(a.secret != b.secret)
        #expect(a.key.prefix == String(a.secret.prefix(10)))
        #expect(a.hash == APIKeySecret.hash(a.secret))
        #expect(a.hash.count == 64)
        // A refused name is shown with its invisible characters spelled out.
        #expect(throws: APIKeyError.invalidName("evil\u{202E}txt")) {
            try APIKeyDraft(APIKeySpec(name: "evil\u{202E}txt"), now: now)
        }
        #expect(
            APIKeyError.invalidName("evil\u{202E}txt").description.hasPrefix(#"Invalid key name 'evil\u{202E}txt'"#))
        // A long one, or a long reference, is quoted cut at 64 characters.
        let long = String(repeating: "n", count: 5_000_000)
        #expect(APIKeyError.invalidName(long).description.count < 300)
        #expect(
            APIKeyError.notFound(long).description
                == "No API key with id or name '\(String(repeating: "n", count: 64))…'.")
    }

    @Test("a name's 64 characters are Unicode scalars, as the OpenAPI document's pattern counts them")
    func nameLength() throws {
        #expect(try APIKeyDraft(APIKeySpec(name: String(repeating: "é", count: 64)), now: now).key.name.count == 64)
        // 33 letters, each with a combining accent: 33 characters to a reader, 66 scalars.
        let accented = String(repeating: "e\u{301}", count: 33)
        #expect(throws: APIKeyError.invalidName(accented)) { try APIKeyDraft(APIKeySpec(name: accented), now: now) }
    }

    @Test("a reference is an id first, then a name exactly one key has")
    func lookup() throws {
        let one = APIKey(id: "key_1", name: "n", prefix: "p", createdAt: now)
        let two = APIKey(id: "key_2", name: "n", prefix: "p", createdAt: now)
        #expect(
            try APIKeyLookup.resolve(
                "key_1", byID: [one],
                byName: {
                    Issue.record("not asked"); return []
                }) == one)
        #expect(try APIKeyLookup.resolve("n", byID: [], byName: { [two] }) == two)
        #expect(throws: APIKeyError.ambiguous("n")) { try APIKeyLookup.resolve("n", byID: [], byName: { [one, two] }) }
        #expect(throws: APIKeyError.notFound("x")) { try APIKeyLookup.resolve("x", byID: [], byName: { [] }) }
        // A name means its live key over revoked ones, or else its one revoked key.
        var revoked = one
        revoked.revokedAt = now
        #expect(try APIKeyLookup.resolve("n", byID: [], byName: { [two, revoked] }) == two)
        #expect(try APIKeyLookup.resolve("n", byID: [], byName: { [revoked] }) == revoked)
        var alsoRevoked = two
        alsoRevoked.revokedAt = now
        #expect(throws: APIKeyError.ambiguous("n")) {
            try APIKeyLookup.resolve("n", byID: [], byName: { [revoked, alsoRevoked] })
        }
    }

    @Test("lease sweeps are paced per store, and a reset makes the next one due")
    func leaseSweep() {
        let sweep = LeaseSweep()
        #expect(sweep.due(now: now))
        #expect(!sweep.due(now: now))
        #expect(!sweep.due(now: now.addingTimeInterval(LeaseSweep.interval / 2)))
        #expect(sweep.due(now: now.addingTimeInterval(LeaseSweep.interval)))
        sweep.reset()
        #expect(sweep.due(now: now.addingTimeInterval(LeaseSweep.interval)))
        // A clock that went back does not stop sweeps for good.
        #expect(sweep.due(now: now.addingTimeInterval(-100)))
    }

    @Test("usage is stored as JSON, and no usage as nothing")
    func usage() {
        #expect(UpstreamUsage().stored == nil)
        let usage = UpstreamUsage(retries: 2, promptTokens: 10, outputTokens: 20, totalTokens: 30)
        #expect(usage.stored.flatMap(UpstreamUsage.init(stored:)) == usage)
        #expect(UpstreamUsage(stored: "not json") == nil)
    }
}

@Suite("Store settings and credit closings, for every store")
struct StoreContractTests {
    @Test("the signing secret is made once and shared by every process on the store", arguments: TestBackend.all)
    func signingSecret(backend: TestBackend) async throws {
        let stores = try await backend.stores()
        let first: [UInt8]
        let second: [UInt8]
        switch stores.database {
        case .sqlite(let database):
            first = try database.signingSecret()
            second = try SQLiteDatabase(path: database.path).signingSecret()
        case .postgres(let database):
            first = try await database.signingSecret()
            second = try await database.signingSecret()
        }
        #expect(first.count == 32)
        #expect(first == second)
    }

    @Test(
        "a job submitted while its key was unmetered is neither settled nor refunded after a top-up",
        arguments: TestBackend.all)
    func noReservationNoRefund(backend: TestBackend) async throws {
        let stores = try await backend.stores()
        let key = try await stores.keys.create(name: "k").key
        _ = try await stores.jobs.enqueue(
            NewJob(
                id: "a", keyID: key.id, model: "m", parameters: "{}", seed: 1, maxAttempts: 1, cost: 10, metered: false)
        )
        _ = try await stores.keys.topUp("k", amount: 5)
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.jobs.fail(jobID: "a", worker: "w", error: "x", code: .internal))
        #expect(try await stores.keys.balance(keyID: key.id) == 5)
        #expect(try await stores.keys.show("k").ledger.map(\.kind) == [.topUp])
    }
}

@Suite("Finished-job cache")
struct FinishedJobCacheTests {
    @Test("finished jobs are served from memory until the sweeper says they are gone")
    func servesFinishedUntilForgotten() async throws {
        let stores = try await TestBackend.sqlite.stores()
        let cache = FinishedJobCache(stores.jobs)
        _ = try await stores.jobs.enqueue(newJob("a"))
        #expect(try await cache.job(id: "a")?.status == .queued)
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await cache.job(id: "a")?.status == .processing)
        #expect(try await stores.jobs.complete(jobID: "a", worker: "w", output: sampleOutput, image: [9]))
        let finished = try #require(try await cache.job(id: "a"))
        #expect(finished.status == .completed)
        #expect(try await cache.image(key: sampleOutput.blobKey) == [9])
        let deleted = try await stores.jobs.deleteFinished(before: Date.distantFuture, limit: 10)
        // Still remembered: nobody told the cache.
        #expect(try await cache.job(id: "a") == finished)
        cache.forget(deleted)
        #expect(try await cache.job(id: "a") == nil)
    }
}
