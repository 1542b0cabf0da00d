import Foundation
import GRDB
import NanoBananaAPI
import Testing

@testable import Store

/// What only the embedded store has to do about its file: damaged values from before
/// balances were bounded, and giving freed space back.
@Suite("SQLite file upkeep")
struct SQLiteMaintenanceTests {
    @Test("a balance stored as REAL fails the reads that meet it, and the migration repairs it")
    func damagedBalance() async throws {
        let path = TestStores.temporaryPath()
        let keys = SQLiteAPIKeyStore(database: try SQLiteDatabase(path: path))
        let created = try await keys.create(name: "rich", credits: 5)
        let database = try SQLiteDatabase(path: path)
        // What an overflowing refund once left: SQLite turns an integer sum past 2^63 into a REAL.
        try await database.pool.write { db in
            try db.execute(sql: "UPDATE api_keys SET credits = 9223372036854775807 + 1")
            try db.execute(sql: "UPDATE credit_ledger SET amount = 1e19, balance_after = 9223372036854775807 + 1")
        }
        #expect(
            try await database.pool.read { db in try String.fetchOne(db, sql: "SELECT typeof(credits) FROM api_keys") }
                == "real")
        await #expect(throws: UnreadableValue.self) { try await keys.authenticate(secret: created.secret) }
        await #expect(throws: UnreadableValue.self) { try await keys.list() }
        await #expect(throws: UnreadableValue.self) { try await keys.balance(keyID: created.key.id) }
        await #expect(throws: UnreadableValue.self) { try await keys.show("rich") }

        // The repair runs when the file is opened by a version that has it.
        try await database.pool.write { db in
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v9-bounded-credits'")
        }
        let repaired = SQLiteAPIKeyStore(database: try SQLiteDatabase(path: path))
        #expect(try await repaired.authenticate(secret: created.secret)?.credits == StoreMaxima.credits)
        let ledger = try await repaired.show("rich").ledger
        #expect(ledger.map(\.amount) == [StoreMaxima.credits])
        #expect(ledger.map(\.balanceAfter) == [StoreMaxima.credits])
        #expect(
            try await database.pool.read { db in
                try String.fetchAll(
                    db, sql: "SELECT typeof(credits) FROM api_keys UNION ALL SELECT typeof(amount) FROM credit_ledger")
            } == ["integer", "integer"])
    }

    @Test("a new file is in incremental auto-vacuum mode, and an older one is switched when opened")
    func incrementalVacuum() throws {
        let fresh = try SQLiteDatabase(path: TestStores.temporaryPath())
        #expect(try fresh.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") } == 2)
        let path = TestStores.temporaryPath()
        try DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TABLE leftover (x); INSERT INTO leftover VALUES (1)")
            #expect(try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") == 0)
        }
        let upgraded = try SQLiteDatabase(path: path)
        #expect(try upgraded.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") } == 2)
        #expect(try upgraded.pool.read { db in try Int.fetchOne(db, sql: "SELECT x FROM leftover") } == 1)
    }

    @Test("the space of swept jobs and their inline references goes back to the file system")
    func spaceComesBack() async throws {
        let database = try SQLiteDatabase(path: TestStores.temporaryPath())
        let clock = ManualWallClock()
        let store = SQLiteJobStore(database: database, clock: clock)
        let reference = "data:image/png;base64," + String(repeating: "A", count: 1_000_000)
        let parameters = #"{"prompt":"x","image_urls":["\#(reference)"]}"#
        func fileBytes() throws -> Int {
            try database.pool.read { db in
                (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0)
                    * (try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0)
            }
        }
        let empty = try fileBytes()
        for index in 0..<20 {
            _ = try await store.enqueue(
                NewJob(id: "j\(index)", keyID: "k", model: "m", parameters: parameters, seed: 1, maxAttempts: 1))
        }
        let queued = try fileBytes()
        #expect(queued > 20_000_000)
        for index in 0..<20 {
            _ = try await store.claim(worker: "w", lease: 30)
            let output = JobOutput(
                blobKey: "j\(index).png", format: .png, width: 1, height: 1, text: nil, engine: "e", inferenceTime: 0)
            #expect(
                try await store.complete(
                    jobID: "j\(index)", worker: "w", output: output, image: [UInt8](repeating: 7, count: 200_000)))
        }
        clock.advance(by: 10)
        #expect(try await store.deleteFinished(before: clock.now(), limit: 100).count == 20)
        var reclaimed = 0
        while case let step = try await store.reclaimSpace(), step > 0 { reclaimed += step }
        let swept = try fileBytes()
        #expect(reclaimed > 20_000_000)
        #expect(swept < empty + 1_000_000, "file: \(empty) bytes empty, \(queued) queued, \(swept) swept")
    }
}
