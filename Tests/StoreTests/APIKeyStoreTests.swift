import Foundation
import Testing

@testable import Store

@Suite("API key store contract, for every store")
struct APIKeyStoreTests {
    @Test("a created key authenticates; the store holds only its hash", arguments: TestBackend.all)
    func createAndAuthenticate(backend: TestBackend) async throws {
        let stores = try await backend.stores()
        let created = try await stores.keys.create(name: "ci")
        #expect(created.secret.hasPrefix("nb_"))
        #expect(created.secret.count == 46)
        #expect(created.key.id.hasPrefix("key_"))
        #expect(try await stores.keys.authenticate(secret: created.secret) == created.key)
        #expect(try await stores.keys.authenticate(secret: created.secret + "x") == nil)
        let cells = try await stores.apiKeyCells().joined(separator: " ")
        #expect(cells.contains(APIKeySecret.hash(created.secret)))
        #expect(!cells.contains(created.secret))
    }

    @Test("a key is created with its credits, limits, role and models in one call", arguments: TestBackend.all)
    func createWithSpec(backend: TestBackend) async throws {
        let stores = try await backend.stores()
        let spec = APIKeySpec(
            name: " team ", credits: 500, role: .admin, allowedModels: ["nano-banana-2", "other"],
            requestsPerMinute: 60, burst: 5, maxInFlight: 3)
        let created = try await stores.keys.create(spec)
        #expect(created.key.name == "team")
        let stored = try #require(try await stores.keys.authenticate(secret: created.secret))
        #expect(stored == created.key)
        #expect(stored.credits == 500)
        #expect(stored.role == .admin)
        #expect(stored.allowedModels == ["nano-banana-2", "other"])
        #expect([stored.requestsPerMinute, stored.burst, stored.maxInFlight] == [60, 5, 3])
        #expect(try await stores.keys.show("team").ledger.map(\.kind) == [.grant])
    }

    @Test("a refused spec stores nothing", arguments: TestBackend.all)
    func refusedSpec(backend: TestBackend) async throws {
        let stores = try await backend.stores()
        await #expect(throws: APIKeyError.invalidLimit(-1)) {
            try await stores.keys.create(APIKeySpec(name: "k", requestsPerMinute: 10, burst: -1))
        }
        await #expect(throws: APIKeyError.invalidAmount(-5)) {
            try await stores.keys.create(APIKeySpec(name: "k", credits: -5))
        }
        await #expect(throws: APIKeyError.invalidAmount(StoreMaxima.credits + 1)) {
            try await stores.keys.create(APIKeySpec(name: "k", credits: StoreMaxima.credits + 1))
        }
        await #expect(throws: APIKeyError.invalidAmount(Int.max)) {
            try await stores.keys.create(APIKeySpec(name: "k", credits: Int.max))
        }
        await #expect(throws: APIKeyError.invalidLimit(StoreMaxima.limit + 1)) {
            try await stores.keys.create(APIKeySpec(name: "k", maxInFlight: StoreMaxima.limit + 1))
        }
        #expect(try await stores.keys.list().isEmpty)
    }

    @Test("revoking by id or name marks the key revoked", arguments: TestBackend.all)
    func revoke(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let first = try await keys.create(name: "one")
        let second = try await keys.create(name: "two")
        #expect(try await keys.revoke(first.key.id).isRevoked)
        #expect(try await keys.revoke("two").id == second.key.id)
        #expect(try await keys.authenticate(secret: second.secret)?.isRevoked == true)
        await #expect(throws: APIKeyError.notFound("three")) { try await keys.revoke("three") }
        #expect(try await keys.list().count == 2)
    }

    @Test(
        "a name is taken while its key is not revoked; a name then means the live key, or the one revoked key",
        arguments: TestBackend.all)
    func uniqueNames(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let first = try await keys.create(name: "dup")
        await #expect(throws: APIKeyError.nameTaken("dup")) { try await keys.create(name: " dup ") }
        await #expect(throws: APIKeyError.nameTaken("dup")) { try await keys.create(APIKeySpec(name: "dup")) }
        #expect(try await keys.show("dup").key.id == first.key.id)
        _ = try await keys.revoke("dup")
        // A revoked key's name may be used again; the name then means the live key.
        let second = try await keys.create(name: "dup", credits: 5)
        #expect(try await keys.topUp("dup", amount: 1).id == second.key.id)
        _ = try await keys.revoke("dup")
        // Only revoked keys have the name now, and two of them: the id is needed.
        await #expect(throws: APIKeyError.ambiguous("dup")) { try await keys.show("dup") }
        #expect(try await keys.show(first.key.id).key.isRevoked)
        #expect(try await keys.list().count == 2)
    }

    @Test("two creates of one name at once make one key", arguments: TestBackend.all)
    func concurrentNames(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        _ = try await keys.create(name: "race")
                        return true
                    } catch {
                        #expect(error as? APIKeyError == .nameTaken("race"))
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 1)
        #expect(try await keys.list().map(\.name) == ["race"])
    }

    @Test(
        "names must be short and single-line, with no control or formatting characters, and not look like an id",
        arguments: TestBackend.all,
        [
            "", "   ", String(repeating: "n", count: 65), "a\nb", "a\u{7}b", "admin\u{202E}txt.exe", "a\u{200F}b",
            "\u{2066}x\u{2069}", "a\u{2028}b", "a\u{2029}b", "a\u{FEFF}b", "key_0123456789abcdef",
        ])
    func invalidNames(backend: TestBackend, name: String) async throws {
        let keys = try await backend.stores().keys
        await #expect(throws: APIKeyError.invalidName(name)) { try await keys.create(name: name) }
        #expect(try await keys.list().isEmpty)
    }

    @Test("names may be any other printable text", arguments: TestBackend.all)
    func printableNames(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        for name in ["équipe données", "チーム", "a b-c_d.e", "key_short", "🍌 bananas"] {
            #expect(try await keys.create(name: name).key.name == name)
        }
    }

    @Test("an update changes only what it names, and moves the change token", arguments: TestBackend.all)
    func update(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let created = try await keys.create(APIKeySpec(name: "k", allowedModels: ["a"], requestsPerMinute: 10))
        let before = keys.changeToken()
        let limited = try await keys.setLimits("k", requestsPerMinute: nil, burst: 4, maxInFlight: 2)
        #expect([limited.requestsPerMinute, limited.burst, limited.maxInFlight] == [10, 4, 2])
        #expect(limited.allowedModels == ["a"])
        let opened = try await keys.setAccess("k", role: .admin, allowedModels: .some(nil), disabled: true)
        #expect(opened.role == .admin)
        #expect(opened.allowedModels == nil)
        #expect(opened.isDisabled)
        #expect(opened.burst == 4)
        #expect(try await keys.authenticate(secret: created.secret) == opened)
        #expect(keys.changeToken() != before)
        await #expect(throws: APIKeyError.invalidLimit(-3)) {
            try await keys.setLimits("k", requestsPerMinute: -3, burst: nil, maxInFlight: nil)
        }
        await #expect(throws: APIKeyError.invalidLimit(Int.max)) {
            try await keys.setLimits("k", requestsPerMinute: nil, burst: Int.max, maxInFlight: nil)
        }
        await #expect(throws: APIKeyError.notFound("nope")) {
            try await keys.update("nope", APIKeyChange(disabled: false))
        }
    }

    @Test("the first key is made only on an empty store", arguments: TestBackend.all)
    func firstKey(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let first = try #require(try await keys.createFirstKey(name: "default"))
        #expect(first.key.credits == nil)
        #expect(try await keys.createFirstKey(name: "default") == nil)
        #expect(try await keys.list().map(\.id) == [first.key.id])
    }

    @Test("top-ups must be positive and make an unmetered key metered", arguments: TestBackend.all)
    func topUp(backend: TestBackend) async throws {
        let keys = try await backend.stores().keys
        let key = try await keys.create(name: "k").key
        #expect(try await keys.balance(keyID: key.id) == nil)
        await #expect(throws: APIKeyError.invalidAmount(0)) { try await keys.topUp("k", amount: 0) }
        await #expect(throws: APIKeyError.invalidAmount(-4)) { try await keys.topUp("k", amount: -4) }
        #expect(try await keys.topUp("k", amount: 7).credits == 7)
        let ledger = try await keys.show(key.id).ledger
        #expect(ledger.map(\.kind) == [.topUp])
        #expect(ledger.map(\.balanceAfter) == [7])
    }
}
