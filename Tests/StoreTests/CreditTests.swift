import Foundation
import GRDB
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Credits")
struct CreditTests {
    struct Fixture {
        let jobs: any JobStore
        let keys: any APIKeyStore
        let clock: ManualWallClock

        static func make(_ backend: TestBackend) async throws -> Fixture {
            let clock = ManualWallClock()
            let stores = try await backend.stores(clock: clock)
            return Fixture(jobs: stores.jobs, keys: stores.keys, clock: clock)
        }

        func job(_ id: String, key: String, cost: Int) -> NewJob {
            NewJob(id: id, keyID: key, model: "m", parameters: "{}", seed: 1, maxAttempts: 2, cost: cost)
        }

        func ledgerSum(_ key: String) async throws -> Int {
            try await keys.show(key).ledger.reduce(0) { $0 + $1.amount }
        }
    }

    @Test(
        "200 parallel submits against a balance of 50 accept exactly 50 and the ledger balances",
        arguments: TestBackend.all)
    func neverBelowZero(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "k", credits: 50).key
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        _ = try await fixture.jobs.enqueue(fixture.job("j\(index)", key: key.id, cost: 1))
                        return true
                    } catch {
                        #expect(error as? InsufficientCredits == InsufficientCredits(price: 1, balance: 0))
                        return false
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 50)
        #expect(try await fixture.keys.balance(keyID: key.id) == 0)
        #expect(try await fixture.ledgerSum(key.id) == 0)
        #expect(try await fixture.jobs.counts() == [.queued: 50])
    }

    @Test(
        "a failed job is refunded, a completed one settled once, even if its worker tries again",
        arguments: TestBackend.all)
    func settleAndRefund(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "k", credits: 100).key
        _ = try await fixture.jobs.enqueue(fixture.job("ok", key: key.id, cost: 30))
        _ = try await fixture.jobs.enqueue(fixture.job("bad", key: key.id, cost: 20))
        #expect(try await fixture.keys.balance(keyID: key.id) == 50)
        _ = try await fixture.jobs.claim(worker: "w", lease: 30)
        let output = JobOutput(
            blobKey: "ok.jpg", format: .jpg, width: 1, height: 1, text: nil, engine: "e", inferenceTime: 0)
        #expect(try await fixture.jobs.complete(jobID: "ok", worker: "w", output: output, image: [1]))
        #expect(try await !fixture.jobs.complete(jobID: "ok", worker: "w", output: output, image: [1]))
        _ = try await fixture.jobs.claim(worker: "w", lease: 30)
        #expect(try await fixture.jobs.fail(jobID: "bad", worker: "w", error: "blocked", code: .contentBlocked))
        #expect(try await fixture.keys.balance(keyID: key.id) == 70)
        let kinds = try await fixture.keys.show(key.id).ledger.map(\.kind)
        #expect(kinds == [.grant, .reserve, .reserve, .settle, .refund])
        #expect(try await fixture.ledgerSum(key.id) == 70)
    }

    @Test("a job abandoned by its dead workers is refunded", arguments: TestBackend.all)
    func workerLostRefund(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "k", credits: 10).key
        _ = try await fixture.jobs.enqueue(
            NewJob(id: "a", keyID: key.id, model: "m", parameters: "{}", seed: 1, maxAttempts: 1, cost: 10))
        _ = try await fixture.jobs.claim(worker: "dead", lease: 5)
        fixture.clock.advance(by: 6)
        #expect(try await fixture.jobs.claim(worker: "w", lease: 5) == nil)
        #expect(try await fixture.jobs.job(id: "a")?.status == .failed)
        #expect(try await fixture.keys.balance(keyID: key.id) == 10)
    }

    @Test("unmetered keys are never charged; top-ups add to the balance", arguments: TestBackend.all)
    func unmeteredAndTopUp(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let free = try await fixture.keys.create(name: "free").key
        _ = try await fixture.jobs.enqueue(fixture.job("a", key: free.id, cost: 1000))
        #expect(try await fixture.keys.balance(keyID: free.id) == nil)
        #expect(try await fixture.keys.show(free.id).ledger.isEmpty)
        let topped = try await fixture.keys.topUp("free", amount: 5)
        #expect(topped.credits == 5)
        await #expect(throws: InsufficientCredits(price: 6, balance: 5)) {
            try await fixture.jobs.enqueue(fixture.job("b", key: free.id, cost: 6))
        }
        await #expect(throws: APIKeyError.invalidAmount(0)) { try await fixture.keys.topUp("free", amount: 0) }
    }

    @Test(
        "balances are bounded: a top-up past the maximum is refused and changes nothing", arguments: TestBackend.all)
    func maximumBalance(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "rich", credits: StoreMaxima.credits).key
        await #expect(
            throws: APIKeyError.balanceTooLarge(balance: StoreMaxima.credits, amount: 1, maximum: StoreMaxima.credits)
        ) {
            try await fixture.keys.topUp("rich", amount: 1)
        }
        await #expect(throws: APIKeyError.invalidAmount(Int.max)) {
            try await fixture.keys.topUp("rich", amount: Int.max)
        }
        #expect(try await fixture.keys.balance(keyID: key.id) == StoreMaxima.credits)
        #expect(try await fixture.keys.show("rich").ledger.map(\.kind) == [.grant])
        // Up to the maximum exactly is fine.
        _ = try await fixture.jobs.enqueue(fixture.job("a", key: key.id, cost: 10))
        #expect(try await fixture.keys.topUp("rich", amount: 10).credits == StoreMaxima.credits)
    }

    @Test(
        "a refund may take a topped-up balance past the maximum, and the key still reads back",
        arguments: TestBackend.all)
    func refundPastMaximum(backend: TestBackend) async throws {
        let fixture = try await Fixture.make(backend)
        let key = try await fixture.keys.create(name: "rich", credits: StoreMaxima.credits).key
        let created = try await fixture.keys.create(name: "other")
        _ = try await fixture.jobs.enqueue(fixture.job("a", key: key.id, cost: StoreMaxima.price))
        _ = try await fixture.keys.topUp("rich", amount: StoreMaxima.price)
        _ = try await fixture.jobs.claim(worker: "w", lease: 30)
        #expect(try await fixture.jobs.fail(jobID: "a", worker: "w", error: "x", code: .internal))
        let balance = StoreMaxima.credits + StoreMaxima.price
        #expect(try await fixture.keys.balance(keyID: key.id) == balance)
        #expect(try await fixture.keys.list().first { $0.id == key.id }?.credits == balance)
        #expect(try await fixture.ledgerSum(key.id) == balance)
        #expect(try await fixture.keys.authenticate(secret: created.secret)?.name == "other")
    }

    @Test(
        "a balance at the top of a 64-bit integer (written before balances were bounded) refuses a top-up instead of overflowing",
        arguments: TestBackend.all)
    func storedHugeBalance(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let created = try await stores.keys.create(name: "rich", credits: 5)
        try await stores.execute("UPDATE api_keys SET credits = 9223372036854775807")
        await #expect(throws: APIKeyError.balanceTooLarge(balance: Int.max, amount: 1, maximum: StoreMaxima.credits)) {
            try await stores.keys.topUp("rich", amount: 1)
        }
        #expect(try await stores.keys.authenticate(secret: created.secret)?.credits == Int.max)
        #expect(try await stores.keys.list().map(\.credits) == [Int.max])
    }
}
