import Foundation
import GRDB
import Testing

@testable import Store

@Suite("Group commit")
struct WriteBatcherTests {
    func makeDatabase() throws -> SQLiteDatabase {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nb-batch-\(UUID().uuidString).sqlite")
            .path
        let database = try SQLiteDatabase(path: path)
        try database.pool.write { db in try db.execute(sql: "CREATE TABLE t (n INTEGER PRIMARY KEY)") }
        return database
    }

    @Test("concurrent writes are all committed and each gets its own result")
    func concurrentWrites() async throws {
        let database = try makeDatabase()
        let batcher = WriteBatcher(pool: database.pool)
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for n in 0..<500 {
                group.addTask {
                    try await batcher.write { db in
                        try db.execute(sql: "INSERT INTO t (n) VALUES (?)", arguments: [n])
                        return n * 2
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.sorted() == (0..<500).map { $0 * 2 })
        let count = try await database.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM t") }
        #expect(count == 500)
    }

    @Test("a write that throws rolls back alone; the rest of its batch commits")
    func failureIsolated() async throws {
        let database = try makeDatabase()
        let batcher = WriteBatcher(pool: database.pool)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for n in 0..<100 {
                group.addTask {
                    do {
                        try await batcher.write { db in
                            try db.execute(sql: "INSERT INTO t (n) VALUES (?)", arguments: [n])
                            // Every tenth write inserts a duplicate key after its first row.
                            if n % 10 == 0 { try db.execute(sql: "INSERT INTO t (n) VALUES (?)", arguments: [n]) }
                        }
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0 }.count == 10)
        let rows = try await database.pool.read { db in try Int.fetchAll(db, sql: "SELECT n FROM t ORDER BY n") }
        #expect(rows == (0..<100).filter { $0 % 10 != 0 })
    }
}
