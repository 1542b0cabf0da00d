import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import Store
import Testing

@testable import Server

/// `Idempotency-Key` on the v1 and v2 submits, as a client sends it: replays, refusals, and
/// what is (not) queued and charged.
@Suite("Idempotent submits")
struct IdempotencyRouteTests {
    static let replayed = HTTPField.Name("idempotent-replayed")!
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    func submit(
        _ client: any TestClientProtocol, _ uri: String = "/v2/nano-banana-2", json: String = #"{"prompt":"x"}"#,
        key: String, idempotencyKey: String?
    ) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json", .apiKey: key]
        if let idempotencyKey { headers[Self.idempotencyKey] = idempotencyKey }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: json))
    }

    func jobCount(_ server: TestServer) async throws -> Int {
        try await server.components.jobs.counts().values.reduce(0, +)
    }

    @Test("v2: the same key and request answer the same request_id, replayed, with one job and one charge")
    func v2Replay() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let created = try await server.components.keys.create(name: "metered", credits: 1000)
            let metered = created.secret
            let first = try await submit(client, key: metered, idempotencyKey: "order-1")
            #expect(first.status == .ok)
            #expect(first.headers[Self.replayed] == nil)
            let id = try first.decoded(SubmitBody.self).requestID
            // The same request spelt otherwise: key order, white space, a default written out.
            let again = try await submit(
                client, json: #"{ "seed": 420875, "prompt": "x" }"#, key: metered, idempotencyKey: "order-1")
            #expect(again.status == .ok)
            #expect(again.headers[Self.replayed] == "true")
            #expect(try again.decoded(SubmitBody.self) == first.decoded(SubmitBody.self))
            #expect(try await jobCount(server) == 1)
            #expect(try await server.components.keys.balance(keyID: created.key.id) == 933)
            // Another key for another request; the same idempotency key of another API key is apart.
            let other = try await submit(client, key: metered, idempotencyKey: "order-2")
            #expect(try other.decoded(SubmitBody.self).requestID != id)
            let otherAPIKey = try await submit(client, key: server.key, idempotencyKey: "order-1")
            #expect(otherAPIKey.headers[Self.replayed] == nil)
            #expect(try await jobCount(server) == 3)
        }
    }

    @Test("the same key with a different body, model route or webhook is 422 naming the header")
    func mismatch() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            #expect(try await submit(client, key: server.key, idempotencyKey: "k").status == .ok)
            for (uri, json) in [
                ("/v2/nano-banana-2", #"{"prompt":"y"}"#), ("/v1/nano-banana-2", #"{"prompt":"x"}"#),
                ("/v2/nano-banana-2?webhook_events=completed", #"{"prompt":"x"}"#),
            ] {
                let response = try await submit(client, uri, json: json, key: server.key, idempotencyKey: "k")
                #expect(response.status == .unprocessableContent, "\(uri) \(json)")
                #expect(response.errorMessage?.contains("'Idempotency-Key'") == true)
                #expect(response.headers[Self.replayed] == nil)
            }
            #expect(try await jobCount(server) == 1)
        }
    }

    @Test("a key that is empty, too long, not printable ASCII or sent twice is 400 naming the header")
    func badKeys() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            for bad in ["", String(repeating: "k", count: 256), "clé"] {
                let response = try await submit(client, key: server.key, idempotencyKey: bad)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(response.errorMessage?.contains("'Idempotency-Key'") == true)
            }
            var headers: HTTPFields = [.contentType: "application/json", .apiKey: server.key]
            headers.append(HTTPField(name: Self.idempotencyKey, value: "a"))
            headers.append(HTTPField(name: Self.idempotencyKey, value: "b"))
            let twice = try await client.execute(
                uri: "/v1/nano-banana-2", method: .post, headers: headers, body: ByteBuffer(string: #"{"prompt":"x"}"#))
            #expect(twice.status == .badRequest)
            #expect(twice.errorMessage?.contains("'Idempotency-Key'") == true)
            #expect(
                try await submit(client, key: server.key, idempotencyKey: String(repeating: "k", count: 255)).status
                    == .ok)
            #expect(try await jobCount(server) == 1)
        }
    }

    @Test("v1: the same key and request answer the same image, replayed, with one job")
    func v1Replay() async throws {
        try await TestServer.run { server, client in
            let json = #"{"prompt":"a 'sign'","output_resolution":"512px"}"#
            let first = try await submit(client, "/v1/nano-banana-2", json: json, key: server.key, idempotencyKey: "v1")
            #expect(first.status == .ok)
            #expect(first.headers[Self.replayed] == nil)
            let again = try await submit(client, "/v1/nano-banana-2", json: json, key: server.key, idempotencyKey: "v1")
            #expect(again.status == .ok)
            #expect(again.headers[Self.replayed] == "true")
            #expect(again.headers[.requestID] == first.headers[.requestID])
            #expect(again.headers[.contentType] == "image/jpeg")
            #expect(again.bytes == first.bytes)
            #expect(try await jobCount(server) == 1)
        }
    }

    @Test("v1: a replay of a running request waits for its image")
    func v1ReplayWaits() async throws {
        let engine = GatedEngine()
        try await TestServer.run(engine: engine) { server, client in
            async let first = submit(client, "/v1/nano-banana-2", key: server.key, idempotencyKey: "wait")
            await engine.waitUntilStarted()
            async let second = submit(client, "/v1/nano-banana-2", key: server.key, idempotencyKey: "wait")
            #expect(await yieldUntil { server.components.hub.waiterCount == 2 })
            #expect(try await jobCount(server) == 1)
            engine.open()
            let (original, replay) = try await (first, second)
            #expect(original.status == .ok && replay.status == .ok)
            #expect(replay.headers[Self.replayed] == "true")
            #expect(replay.headers[.requestID] == original.headers[.requestID])
            #expect(replay.bytes == [0xFF, 0xD8, 0xFF, 0xD9])
        }
    }

    @Test("a FAILED request is replayed as it is: the same 422, the same request id")
    func failedReplay() async throws {
        try await TestServer.run { server, client in
            let json = #"{"prompt":"forbidden words"}"#
            let first = try await submit(client, "/v1/nano-banana-2", json: json, key: server.key, idempotencyKey: "f")
            #expect(first.status == .unprocessableContent)
            let again = try await submit(client, "/v1/nano-banana-2", json: json, key: server.key, idempotencyKey: "f")
            #expect(again.status == .unprocessableContent)
            #expect(again.headers[Self.replayed] == "true")
            #expect(try again.decoded(ErrorBody.self) == first.decoded(ErrorBody.self))
            #expect(try await jobCount(server) == 1)
        }
    }

    @Test("the retention sweep deletes idempotency keys older than 24 hours, and only those")
    func sweep() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            #expect(try await submit(client, key: server.key, idempotencyKey: "old").status == .ok)
            server.clock.advance(by: IdempotentSubmit.window + 1)
            #expect(try await submit(client, key: server.key, idempotencyKey: "new").status == .ok)
            let components = server.components
            try await RetentionSweeper(
                jobs: components.jobs, uploads: components.backend.uploads, cache: components.finished,
                clock: components.clock,
                retention: components.configuration.retention, interval: 60, logger: .init(label: "test")
            ).sweepOnce()
            let left = try await components.jobs.deleteIdempotencyKeys(
                before: server.clock.now().addingTimeInterval(1), limit: 10)
            #expect(left == 1)
        }
    }

    @Test("replays are counted by route in nano_banana_idempotent_replays_total")
    func metrics() async throws {
        try await TestServer.run { server, client in
            let admin = try await server.components.keys.create(APIKeySpec(name: "root", role: .admin)).secret
            for _ in 0..<3 { _ = try await submit(client, key: server.key, idempotencyKey: "m2") }
            for _ in 0..<2 { _ = try await submit(client, "/v1/nano-banana-2", key: server.key, idempotencyKey: "m1") }
            let scrape = try Scrape(try await client.get("/metrics", key: admin))
            #expect(scrape.value(MetricName.idempotentReplays, ["route": "v2"]) == 2)
            #expect(scrape.value(MetricName.idempotentReplays, ["route": "v1"]) == 1)
            #expect(scrape.value(MetricName.jobsSubmitted, ["model": "nano-banana-2", "engine": "preview"]) == 2)
        }
    }
}

@Suite("The key's balance")
struct CreditsRouteTests {
    @Test("GET /v1/get-user-credits is the key's balance, null for an unmetered key")
    func balance() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let unmetered = try await client.get("/v1/get-user-credits", key: server.key)
            #expect(unmetered.status == .ok)
            // `credits` is written out as null, not left out.
            #expect(String(decoding: unmetered.body.readableBytesView, as: UTF8.self).contains(#""credits":null"#))
            #expect(try unmetered.decoded(CreditsBody.self) == CreditsBody(credits: nil))
            #expect(try unmetered.decoded(CreditsBody.self).metered == false)
            let metered = try await server.components.keys.create(name: "metered", credits: 500).secret
            _ = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: metered)
            let body = try await client.get("/v1/get-user-credits", key: metered).decoded(CreditsBody.self)
            #expect(body == CreditsBody(credits: 433))
            #expect(
                try await client.execute(uri: "/v1/get-user-credits", method: .head, headers: server.auth).status == .ok
            )
            #expect(try await client.get("/v1/get-user-credits", key: nil).status == .unauthorized)
            // Its path is its own: not a model's, whatever the method.
            let post = try await client.post("/v1/get-user-credits", json: "{}", key: server.key)
            #expect(post.status == .methodNotAllowed)
            #expect(post.headers[.allow] == "GET, HEAD")
        }
    }
}
