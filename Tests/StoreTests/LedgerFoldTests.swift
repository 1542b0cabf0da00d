import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("The credit ledger stays bounded, for every store")
struct LedgerFoldTests {
    func job(_ id: String, key: String) -> NewJob {
        NewJob(id: id, keyID: key, model: "m", parameters: "{}", seed: 1, maxAttempts: 3, cost: 10)
    }

    @Test(
        "lines older than the cutoff fold into one summary line; the ledger still adds up to the balance",
        arguments: TestBackend.all)
    func fold(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let (jobs, keys) = (stores.jobs, stores.keys)
        let key = try await keys.create(name: "k", credits: 1000).key
        let unmetered = try await keys.create(name: "free").key
        for index in 0..<5 {
            _ = try await jobs.enqueue(job("old\(index)", key: key.id))
            _ = try await jobs.claim(worker: "w", lease: 30)
            #expect(try await jobs.complete(jobID: "old\(index)", worker: "w", output: sampleOutput, image: [1]))
        }
        // An old job still QUEUED: its reservation, and every line after it, stay.
        _ = try await jobs.enqueue(job("waiting", key: key.id))
        _ = try await jobs.enqueue(job("free", key: unmetered.id))
        _ = try await keys.topUp("k", amount: 5)
        clock.advance(by: 100)
        _ = try await jobs.enqueue(job("new", key: key.id))
        let before = try await keys.show(key.id).ledger
        #expect(before.count == 14)

        #expect(try await jobs.foldLedger(before: clock.now().addingTimeInterval(-50)) == 10)
        let after = try await keys.show(key.id).ledger
        #expect(after.map(\.kind) == [.summary, .reserve, .topUp, .reserve])
        #expect(after[0].amount == 950)
        #expect(after[0].balanceAfter == 950)
        #expect(after[1].requestID == "waiting")
        #expect(after.reduce(0) { $0 + $1.amount } == 935)
        #expect(try await keys.balance(keyID: key.id) == 935)
        // Folding again finds nothing new; the waiting job's refund still finds its reservation.
        #expect(try await jobs.foldLedger(before: clock.now().addingTimeInterval(-50)) == 0)
        _ = try await keys.revoke("k")
        #expect(try await keys.balance(keyID: key.id) == 955)
        clock.advance(by: 100)
        #expect(try await jobs.foldLedger(before: clock.now()) == 5)
        let last = try await keys.show(key.id).ledger
        #expect(last.map(\.kind) == [.summary])
        #expect(last.map(\.amount) == [955])
        #expect(try await keys.show(unmetered.id).ledger.isEmpty)
    }

    @Test("a page of the ledger is its newest lines before a line, oldest first", arguments: TestBackend.all)
    func pages(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k", credits: 1).key
        for amount in 2...6 { _ = try await stores.keys.topUp("k", amount: amount) }
        let all = try await stores.keys.show(key.id).ledger
        #expect(all.map(\.amount) == [1, 2, 3, 4, 5, 6])
        let newest = try await stores.keys.show("k", ledgerLimit: 2, before: nil).ledger
        #expect(newest.map(\.amount) == [5, 6])
        let older = try await stores.keys.show("k", ledgerLimit: 2, before: newest[0].sequence).ledger
        #expect(older.map(\.amount) == [3, 4])
        #expect(
            try await stores.keys.show("k", ledgerLimit: 10, before: older[0].sequence).ledger.map(\.amount) == [1, 2])
    }
}
