import Engines
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NanoBananaAPI
import Store
import Testing

@testable import Server

@Suite("Webhook routes")
struct WebhookRouteTests {
    func object(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    func submit(
        _ client: any TestClientProtocol, _ server: TestServer, query: String, version: String = "v2"
    ) async throws -> TestResponse {
        try await client.post(
            "/\(version)/nano-banana-2?\(query)", json: #"{"prompt":"x","output_resolution":"512px"}"#, key: server.key)
    }

    @Test("a bad or private webhook URL is a 400 naming `webhook`; bad events name `webhook_events`")
    func refusedAtSubmit() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            for (query, phrase) in [
                ("webhook=ftp://hooks.example/x", "http"),
                ("webhook=http://127.0.0.1:9/x", "private or reserved"),
                ("webhook=http://[::ffff:10.0.0.1]/x", "private or reserved"),
                ("webhook=http://169.254.169.254/latest", "private or reserved"),
                ("webhook=http://localhost:9/x", "private or reserved"),
                ("webhook=https://" + String(repeating: "a", count: 2040) + ".example", "2048"),
                ("webhook=https://hooks.example&webhook_events=finished", "webhook_events"),
            ] {
                for version in ["v1", "v2"] {
                    let response = try await submit(client, server, query: query, version: version)
                    #expect(response.status == .badRequest, "\(query)")
                    let message = response.errorMessage ?? ""
                    #expect(message.contains(query.contains("webhook_events") ? "'webhook_events'" : "'webhook'"))
                    #expect(message.contains(phrase), "\(message)")
                }
            }
            // A misspelt parameter, or upper-case event names, are refused, not ignored.
            for (query, phrase) in [
                ("webhok=https://hooks.example", "Unknown query parameter 'webhok'"),
                ("webhook_events=COMPLETED", "'webhook_events' 'COMPLETED'"),
            ] {
                let response = try await submit(client, server, query: query, version: "v2")
                #expect(response.status == .badRequest)
                #expect(response.errorMessage?.contains(phrase) == true, "\(response.errorMessage ?? "")")
            }
            #expect(try await server.components.jobs.counts().isEmpty)
        }
    }

    @Test("an allowed receiver is accepted; the job keeps its targets, the request's own winning over the key's")
    func targetsAtSubmit() async throws {
        try await TestServer.run(configure: {
            $0.runsWorkers = false
            $0.allowedWebhookHosts = ["127.0.0.1:9"]
        }) { server, client in
            let key = try #require(try await server.components.keys.authenticate(secret: server.key))
            _ = try await server.components.keys.update(
                key.id, APIKeyChange(webhookURL: .some("https://default.example/h")))
            let own = try await submit(
                client, server, query: "webhook=http://127.0.0.1:9/hook&webhook_events=processing,request.completed")
            #expect(own.status == .ok)
            let ownID = try own.decoded(SubmitBody.self).requestID
            #expect(
                try await server.components.jobs.job(id: ownID)?.webhooks
                    == [WebhookTarget(url: "http://127.0.0.1:9/hook", events: [.processing, .completed])])
            let byDefault = try await submit(client, server, query: "")
            let defaultID = try byDefault.decoded(SubmitBody.self).requestID
            #expect(
                try await server.components.jobs.job(id: defaultID)?.webhooks
                    == [WebhookTarget(url: "https://default.example/h")])
            let other = try await submit(client, server, query: "webhook=http://127.0.0.1:10/hook")
            #expect(other.status == .badRequest)
        }
    }

    @Test("a request's deliveries list each event and attempt; redelivery needs a final event")
    func deliveriesAndRedelivery() async throws {
        // Port 9 on loopback is allowed and closed: every attempt fails to connect.
        try await TestServer.run(configure: {
            $0.allowedWebhookHosts = ["127.0.0.1:9"]
            $0.webhookRetry = WebhookRetryPolicyForTests.quick
        }) { server, client in
            let id = try await submit(client, server, query: "webhook=http://127.0.0.1:9/hook")
                .decoded(SubmitBody.self).requestID
            let job = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(60))
            #expect(job?.status == .completed)
            var events: [[String: Any]] = []
            // Bounded: at most 60 s for the first attempt to be recorded.
            for _ in 0..<1200 {
                let body = try object(try await client.get("/v2/requests/\(id)/webhooks", key: server.key))
                #expect(body["request_id"] as? String == id)
                events = body["events"] as? [[String: Any]] ?? []
                if let attempts = events.first?["attempts"] as? [Any], !attempts.isEmpty { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let event = try #require(events.first)
            #expect(events.count == 1)
            #expect((event["id"] as? String)?.hasPrefix("msg_") == true)
            #expect(event["type"] as? String == "request.completed")
            #expect(event["url"] as? String == "http://127.0.0.1:9/hook")
            #expect(event["state"] as? String == "PENDING")
            #expect(event["next_attempt_at"] is String)
            let attempt = try #require((event["attempts"] as? [[String: Any]])?.first)
            #expect(attempt["number"] as? Int == 1)
            #expect(attempt["status_code"] is NSNull)
            #expect(attempt["error"] is String)
            #expect(attempt["latency_ms"] is Int)
            // Counted (before it is recorded) by its outcome: a retry, none delivered.
            let scrape = String(decoding: server.components.metrics.exposition(), as: UTF8.self)
            let retries = scrape.split(separator: "\n")
                .first { $0.hasPrefix(#"nano_banana_webhook_deliveries_total{outcome="retry"} "#) }
                .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            #expect((retries ?? 0) >= 1, "\(scrape)")
            #expect(!scrape.contains(#"nano_banana_webhook_deliveries_total{outcome="delivered"} 1"#))

            let again = try await client.post("/v2/requests/\(id)/webhooks/redeliver", json: "", key: server.key)
            #expect(again.status == .accepted)
            let redelivered = try #require((try object(again)["events"] as? [[String: Any]])?.first)
            #expect(redelivered["id"] as? String == event["id"] as? String)

            // Another key sees nothing; a request without a webhook has nothing to send again.
            let other = try await server.components.keys.create(name: "other").secret
            #expect(try await client.get("/v2/requests/\(id)/webhooks", key: other).status == .notFound)
            #expect(
                try await client.post("/v2/requests/\(id)/webhooks/redeliver", json: "", key: other).status
                    == .notFound)
            let plain = try await submit(client, server, query: "").decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: plain, timeout: .seconds(60))
            let nothing = try await client.post("/v2/requests/\(plain)/webhooks/redeliver", json: "", key: server.key)
            #expect(nothing.status == .conflict)
        }
    }

    @Test("GET /v2/webhooks/secret gives the key its own whsec_ secret, the same each time")
    func secret() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let first = try object(try await client.get("/v2/webhooks/secret", key: server.key))["key"] as? String
            #expect(first?.hasPrefix("whsec_") == true)
            #expect(try object(try await client.get("/v2/webhooks/secret", key: server.key))["key"] as? String == first)
            let other = try await server.components.keys.create(name: "other").secret
            #expect(try object(try await client.get("/v2/webhooks/secret", key: other))["key"] as? String != first)
            #expect(try await client.get("/v2/webhooks/secret", key: nil).status == .unauthorized)
        }
    }

    @Test("the segmind registry: add, update, get, inactive, dispatch-logs; another key's id is 404")
    func registry() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let added = try await client.post(
                "/webhook/add",
                json: #"{"webhook_url":"https://a.example/h","event":{"types":["completed","failed"]}}"#,
                key: server.key)
            #expect(added.status == .ok)
            let body = try object(added)
            let id = try #require(body["webhook_id"] as? String)
            #expect(body["webhook_url"] as? String == "https://a.example/h")
            #expect((body["event"] as? [String: Any])?["types"] as? [String] == ["completed", "failed"])
            #expect(body["active"] as? Bool == true)

            let updated = try await client.post(
                "/webhook/update",
                json: #"{"webhook_id":"\#(id)","webhook_url":"https://b.example/h","event":{"types":["processing"]}}"#,
                key: server.key)
            #expect(try object(updated)["webhook_url"] as? String == "https://b.example/h")
            let listed =
                try object(try await client.get("/webhook/get", key: server.key))["webhooks"] as? [[String: Any]]
            #expect(listed?.map { $0["webhook_id"] as? String } == [id])

            let key = try #require(try await server.components.keys.authenticate(secret: server.key))
            #expect(key.defaultWebhookTargets == [WebhookTarget(url: "https://b.example/h", events: [.processing])])

            let logs = try object(try await client.get("/webhook/dispatch-logs?webhook_id=\(id)", key: server.key))
            #expect(logs["webhook_id"] as? String == id && (logs["logs"] as? [Any])?.isEmpty == true)

            let other = try await server.components.keys.create(name: "other").secret
            #expect(try await client.get("/webhook/inactive?webhook_id=\(id)", key: other).status == .notFound)
            let inactive = try await client.get("/webhook/inactive?webhook_id=\(id)", key: server.key)
            #expect(try object(inactive)["active"] as? Bool == false)
            let after = try #require(try await server.components.keys.authenticate(secret: server.key))
            #expect(after.defaultWebhookTargets.isEmpty)

            let bad = try await client.post(
                "/webhook/add", json: #"{"webhook_url":"https://a.example","event":{"types":["PIXELFLOW"]}}"#,
                key: server.key)
            #expect(bad.status == .badRequest)
            #expect(
                try await client.post("/webhook/add", json: #"{"webhook_url":"nope"}"#, key: server.key).status
                    == .badRequest)
            #expect(try await client.get("/webhook/inactive", key: server.key).status == .badRequest)
        }
    }

    @Test("admin keys take and show a webhook_url")
    func adminWebhookURL() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await server.components.keys.create(APIKeySpec(name: "root", role: .admin)).secret
            let created = try await client.post(
                "/admin/keys", json: #"{"name":"hooked","webhook_url":"https://h.example/x"}"#, key: admin)
            #expect(created.status == .created)
            #expect(try object(created)["webhook_url"] as? String == "https://h.example/x")
            let plain = try await client.post("/admin/keys", json: #"{"name":"plain"}"#, key: admin)
            #expect(try object(plain)["webhook_url"] is NSNull)
            let bad = try await client.post(
                "/admin/keys", json: #"{"name":"bad","webhook_url":"gopher://x"}"#, key: admin)
            #expect(bad.status == .badRequest)
        }
    }
}

enum WebhookRetryPolicyForTests {
    /// Retries within seconds, for tests.
    static let quick = WebhookRetryPolicy(schedule: [30, 30], jitter: 0, timeout: 2)
}

@Suite("Webhook configuration")
struct WebhookConfigurationTests {
    func read(
        _ environment: [String: String], flags: (inout ConfigurationValues) -> Void = { _ in }
    ) -> Result<
        ServerConfiguration, ConfigurationError
    > {
        var values = ConfigurationValues(environment: environment)
        flags(&values)
        return Result { () throws(ConfigurationError) in try ServerConfiguration(values: values) }
    }

    @Test("the allow-list, the retry schedule and the timeout are read and checked at start")
    func settings() throws {
        let defaults = try read([:]).get()
        #expect(defaults.allowedWebhookHosts.isEmpty)
        #expect(defaults.webhookRetry == WebhookRetryPolicy())
        let set = try read(
            [
                "NANO_BANANA_ALLOW_WEBHOOK_HOSTS": "hooks.internal, 127.0.0.1:9000",
                "NANO_BANANA_WEBHOOK_RETRY_SCHEDULE": "1s,2s,1m", "NANO_BANANA_WEBHOOK_TIMEOUT": "2.5",
            ]
        ).get()
        #expect(set.allowedWebhookHosts == ["hooks.internal", "127.0.0.1:9000"])
        #expect(set.webhookRetry.schedule == [1, 2, 60])
        #expect(set.webhookRetry.timeout == 2.5)
        let flagged = try read(["NANO_BANANA_ALLOW_WEBHOOK_HOSTS": "a.example"]) { values in
            values.override(.allowWebhookHosts, with: ["b.example:1", "c.example"])
        }.get()
        #expect(flagged.allowedWebhookHosts == ["b.example:1", "c.example"])

        for (name, value) in [
            ("NANO_BANANA_ALLOW_WEBHOOK_HOSTS", "h:0"), ("NANO_BANANA_WEBHOOK_RETRY_SCHEDULE", "5x"),
            ("NANO_BANANA_WEBHOOK_RETRY_SCHEDULE", "0s"), ("NANO_BANANA_WEBHOOK_TIMEOUT", "0"),
            ("NANO_BANANA_WEBHOOK_TIMEOUT", "301"),
        ] {
            guard case .failure(let error) = read([name: value]) else {
                Issue.record("\(name)=\(value) was accepted")
                continue
            }
            #expect(error.description.contains(name))
        }
        guard case .failure(let error) = read([:], flags: { $0.override(.webhookRetrySchedule, with: "soon") }) else {
            Issue.record("accepted")
            return
        }
        #expect(error.description.contains("--webhook-retry-schedule"))
    }
}
