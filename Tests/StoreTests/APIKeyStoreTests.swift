import Foundation
import GRDB
import Testing

@testable import Store

@Suite("API keys")
struct APIKeyStoreTests {
    func makeStore() throws -> (SQLiteAPIKeyStore, SQLiteDatabase) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nb-keys-\(UUID().uuidString).sqlite")
            .path
        let database = try SQLiteDatabase(path: path)
        return (SQLiteAPIKeyStore(database: database), database)
    }

    @Test("a created key authenticates; the database holds only its hash")
    func createAndAuthenticate() async throws {
        let (store, database) = try makeStore()
        let created = try await store.create(name: "ci")
        #expect(created.secret.hasPrefix("nb_"))
        #expect(created.secret.count == 46)
        #expect(try await store.authenticate(secret: created.secret)?.id == created.key.id)
        #expect(try await store.authenticate(secret: created.secret + "x") == nil)
        let stored = try await database.pool.read { db in try String.fetchAll(db, sql: "SELECT key_hash FROM api_keys")
        }
        #expect(stored == [APIKeySecret.hash(created.secret)])
        let dump = try await database.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys").map { "\($0)" }.joined()
        }
        #expect(!dump.contains(created.secret))
    }

    @Test("revoking by id or unique name marks the key revoked")
    func revoke() async throws {
        let (store, _) = try makeStore()
        let first = try await store.create(name: "one")
        let second = try await store.create(name: "two")
        #expect(try await store.revoke(first.key.id).isRevoked)
        #expect(try await store.revoke("two").id == second.key.id)
        #expect(try await store.authenticate(secret: second.secret)?.isRevoked == true)
        await #expect(throws: APIKeyError.notFound("three")) { try await store.revoke("three") }
        _ = try await store.create(name: "dup")
        _ = try await store.create(name: "dup")
        await #expect(throws: APIKeyError.ambiguous("dup")) { try await store.revoke("dup") }
        #expect(try await store.list().count == 4)
    }

    @Test("names must be short and single-line", arguments: ["", "   ", String(repeating: "n", count: 65), "a\nb"])
    func invalidNames(name: String) async throws {
        let (store, _) = try makeStore()
        await #expect(throws: APIKeyError.self) { try await store.create(name: name) }
    }
}
