import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NanoBananaAPI
import Store
import Testing

@testable import Server

/// The key rules as the admin routes show them: bounded credits, unique names, a key's
/// page of ledger, and what revoking does to the key's queue.
@Suite("Admin key routes")
struct AdminKeyRouteTests {
    /// An admin key's secret on `server`.
    func admin(_ server: TestServer) async throws -> String {
        let admin = try await server.components.keys.create(APIKeySpec(name: "root", role: .admin))
        return admin.secret
    }

    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test("a 201 names the key's credits, null for an unmetered key")
    func createdShowsCredits() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            let metered = try await client.post("/admin/keys", json: #"{"name":"alice","credits":100}"#, key: admin)
            #expect(metered.status == .created)
            #expect(try object(metered)["credits"] as? Int == 100)
            let unmetered = try await client.post("/admin/keys", json: #"{"name":"bob"}"#, key: admin)
            #expect(unmetered.status == .created)
            let body = try object(unmetered)
            #expect(body.keys.contains("credits"))
            #expect(body["credits"] is NSNull)
        }
    }

    @Test("an unknown field in an admin body is 400 naming it, as on the generation routes")
    func unknownFields() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            let create = try await client.post("/admin/keys", json: #"{"name":"alice","max_inflight":3}"#, key: admin)
            #expect(create.status == .badRequest)
            #expect(
                create.errorMessage
                    == "Unknown field 'max_inflight'. Accepted fields: name, credits, rpm, burst, role, models, max_in_flight, webhook_url."
            )
            #expect(try await client.get("/admin/keys/alice", key: admin).status == .notFound)
            let bob = try await server.components.keys.create(name: "bob", credits: 1)
            let topUp = try await client.post("/admin/keys/bob/credits", json: #"{"amount":1,"note":"x"}"#, key: admin)
            #expect(topUp.status == .badRequest)
            #expect(try await server.components.keys.balance(keyID: bob.key.id) == 1)
        }
    }

    @Test("a name a live key has is 409; a control character in a name is 400")
    func names() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            #expect(try await client.post("/admin/keys", json: #"{"name":"alice"}"#, key: admin).status == .created)
            let again = try await client.post("/admin/keys", json: #"{"name":"alice"}"#, key: admin)
            #expect(again.status == .conflict)
            #expect(
                again.errorMessage
                    == "A key named 'alice' already exists: choose another name, or revoke that key first.")
            let hidden = try await client.post("/admin/keys", json: #"{"name":"evil\u202Etxt"}"#, key: admin)
            #expect(hidden.status == .badRequest)
            #expect(hidden.errorMessage?.hasPrefix("Invalid key name") == true)
        }
    }

    @Test("credits past the maximum are 400, a top-up past it 409, each naming the maximum; the server carries on")
    func maximumCredits() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            let tooRich = try await client.post(
                "/admin/keys", json: #"{"name":"rich","credits":9223372036854775807}"#, key: admin)
            #expect(tooRich.status == .badRequest)
            #expect(tooRich.errorMessage?.contains("at most 1000000000000000") == true)
            let rich = try await client.post(
                "/admin/keys", json: #"{"name":"rich","credits":1000000000000000}"#, key: admin)
            #expect(rich.status == .created)
            let topUp = try await client.post("/admin/keys/rich/credits", json: #"{"amount":1}"#, key: admin)
            #expect(topUp.status == .conflict)
            #expect(topUp.errorMessage?.contains("maximum balance of 1000000000000000") == true)
            let limits = try await client.post("/admin/keys", json: #"{"name":"fast","rpm":1000001}"#, key: admin)
            #expect(limits.status == .badRequest)
            #expect(try await client.get("/admin/keys", key: admin).status == .ok)
            let secret = try #require(try object(rich)["secret"] as? String)
            let submitted = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: secret)
            #expect(submitted.status == .ok)
        }
    }

    @Test("GET /admin/keys/{id} shows the key and its newest ledger lines, a page at a time")
    func ledgerPages() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            _ = try await server.components.keys.create(name: "alice", credits: 1)
            for amount in 2...25 { _ = try await server.components.keys.topUp("alice", amount: amount) }
            let first = try object(try await client.get("/admin/keys/alice", key: admin))
            let lines = try #require(first["ledger"] as? [[String: Any]])
            #expect(lines.count == 20)
            #expect(lines.map { $0["amount"] as? Int } == (6...25).map { $0 })
            #expect((first["key"] as? [String: Any])?["credits"] as? Int == 325)
            let before = try #require(first["before"] as? Int)
            let second = try object(try await client.get("/admin/keys/alice?limit=3&before=\(before)", key: admin))
            #expect((second["ledger"] as? [[String: Any]])?.map { $0["amount"] as? Int } == [3, 4, 5])
            let last = try object(
                try await client.get("/admin/keys/alice?limit=10&before=\(second["before"] as? Int ?? 0)", key: admin))
            #expect((last["ledger"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["grant", "top_up"])
            #expect(last["before"] is NSNull)
            #expect(try await client.get("/admin/keys/alice?limit=0", key: admin).status == .badRequest)
            #expect(try await client.get("/admin/keys/nobody", key: admin).status == .notFound)
        }
    }

    @Test("revoking a key FAILS its queued requests as cancelled, and refunds them")
    func revokeCancels() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let created = try await server.components.keys.create(name: "alice", credits: 1000)
            let submitted = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret)
            let id = try #require(try object(submitted)["request_id"] as? String)
            #expect(try await server.components.keys.balance(keyID: created.key.id) == 933)
            _ = try await server.components.keys.revoke("alice")
            let job = try #require(try await server.components.jobs.job(id: id))
            #expect(job.status == .failed)
            #expect(job.state.error == "cancelled: the API key was revoked")
            #expect(try await server.components.keys.balance(keyID: created.key.id) == 1000)
        }
    }

    @Test("a key's queued bytes past the limit are 429 with a clear sentence")
    func queuedBytes() async throws {
        try await TestServer.run(configure: {
            $0.runsWorkers = false; $0.limits.maxQueuedBytes = 3000
        }) { server, client in
            let prompt = String(repeating: "p", count: 2000)
            let body = #"{"prompt":"\#(prompt)"}"#
            #expect(try await client.post("/v2/nano-banana-2", json: body, key: server.key).status == .ok)
            let limited = try await client.post("/v2/nano-banana-2", json: body, key: server.key)
            #expect(limited.status == .tooManyRequests)
            #expect(
                limited.errorMessage
                    == "Rate limited: this key's QUEUED requests would hold more than 3000 bytes of parameters (the queued bytes per key limit). Retry in 5 s, once some have started."
            )
            #expect(limited.headers[.rateLimitScope] == "queued bytes per key")
        }
    }
}
