import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import Store
import Testing

@testable import Server

@Suite("Errors: every one is JSON with the seed's status code")
struct ErrorRouteTests {
    @Test("a missing, unknown or revoked key is 401", arguments: ["/v1/nano-banana-2", "/v2/nano-banana-2"])
    func unauthorized(path: String) async throws {
        try await TestServer.run { server, client in
            let missing = try await client.post(path, json: #"{"prompt":"x"}"#, key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.errorMessage?.contains("x-api-key") == true)
            #expect(try await client.post(path, json: #"{"prompt":"x"}"#, key: "nb_wrong").status == .unauthorized)

            let revoked = try await server.components.keys.create(name: "soon-revoked")
            _ = try await server.components.keys.revoke(revoked.key.id)
            let response = try await client.post(path, json: #"{"prompt":"x"}"#, key: revoked.secret)
            #expect(response.status == .unauthorized)
            #expect(response.errorMessage?.contains("revoked") == true)
            #expect(try await client.get("/v2/requests/x/status", key: nil).status == .unauthorized)
        }
    }

    @Test("a key revoked by another process is refused on its next request")
    func revokedElsewhere() async throws {
        try await TestServer.run { server, client in
            #expect(try await client.get("/v2/requests/x", key: server.key).status == .notFound)
            // A second store over the same database stands for `nano-banana keys revoke`.
            let otherProcess = try await server.otherProcessKeys()
            _ = try await otherProcess.revoke("test")
            // On PostgreSQL the news comes by NOTIFY: allow it a moment to arrive.
            var response = try await client.get("/v2/requests/x", key: server.key)
            for _ in 0..<50 where response.status != .unauthorized {
                try await Task.sleep(for: .milliseconds(50))
                response = try await client.get("/v2/requests/x", key: server.key)
            }
            #expect(response.status == .unauthorized)
            #expect(response.errorMessage?.contains("revoked") == true)
        }
    }

    @Test(
        "bad parameters are 400 naming the field",
        arguments: [
            (#"{"prompt":"x","aspect_ratio":"7:3"}"#, "aspect_ratio"),
            (#"{"prompt":"x","output_format":"webp"}"#, "output_format"),
            (#"{"prompt":"x","output_resolution":"8K"}"#, "output_resolution"),
            (#"{"prompt":"x","thinking_level":"medium"}"#, "thinking_level"),
            (#"{"prompt":"x","response_modalities":"TEXT"}"#, "response_modalities"),
            (#"{"prompt":"x","safety_tolerance":0}"#, "safety_tolerance"),
            (#"{"prompt":"x","safety_tolerance":"4"}"#, "safety_tolerance"),
            (#"{"prompt":"x","seed":"abc"}"#, "seed"),
            (#"{"prompt":"x","seed":1.5}"#, "seed"),
            (#"{"prompt":"x","web_search":"yes"}"#, "web_search"),
            (#"{"prompt":"x","image_urls":"http://a.example/x.png"}"#, "image_urls"),
            (#"{"prompt":"x","image_urls":[1]}"#, "image_urls[0]"),
            (#"{"prompt":"x","image_urls":["ftp://a.example/x.png"]}"#, "image_urls[0]"),
            (#"{"prompt":"x","image_urls":["data:image/png;base64,!!!!"]}"#, "image_urls[0]"),
            (#"{"prompt":"x","image_urls":["data:text/plain;base64,aGk="]}"#, "image_urls[0]"),
            (#"{"prompt":"x","colour":"red"}"#, "colour"),
            (#"{"prompt":""}"#, "prompt"),
            (#"{"prompt":"   "}"#, "prompt"),
            (#"{"prompt":7}"#, "prompt"),
            (#"{"seed":7}"#, "prompt"),
        ])
    func badParameter(json: String, field: String) async throws {
        try await TestServer.run { server, client in
            for path in ["/v1/nano-banana-2", "/v2/nano-banana-2"] {
                let response = try await client.post(path, json: json, key: server.key)
                #expect(response.status == .badRequest)
                #expect(response.errorMessage?.contains("'\(field)'") == true, "\(response.errorMessage ?? "no error")")
            }
        }
    }

    @Test(
        "references at literal private or loopback addresses are refused at submit",
        arguments: [
            "http://127.0.0.1/a.png", "http://[::1]:8080/a.png", "http://169.254.169.254/latest/meta-data",
            "https://10.0.0.1/a.png", "http://[::ffff:10.0.0.1]/a.png", "http://192.168.1.20/a.png",
        ])
    func privateLiteral(url: String) async throws {
        try await TestServer.run { server, client in
            let response = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","image_urls":["\#(url)"]}"#, key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage?.contains("image_urls[0]") == true)
            #expect(response.errorMessage?.contains("private") == true)
        }
    }

    @Test("an operator's allow-list lets a private host through submission")
    func allowListedLiteral() async throws {
        try await TestServer.run(configure: {
            $0.allowedFetchHosts = ["127.0.0.1"]; $0.runsWorkers = false
        }) {
            server, client in
            let response = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","image_urls":["http://127.0.0.1:9/a.png"]}"#, key: server.key
            )
            #expect(response.status == .ok)
        }
    }

    @Test("a reference whose name resolves to loopback FAILS the job with a clear error")
    func privateName() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","image_urls":["http://localhost:9/a.png"]}"#, key: server.key
            ).decoded(SubmitBody.self).requestID
            let job = try #require(try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300)))
            #expect(job.status == .failed)
            #expect(job.state.error?.contains("image_urls[0]") == true)
            #expect(job.state.error?.contains("private") == true || job.state.error?.contains("reserved") == true)
        }
    }

    @Test("too many reference images is 400")
    func tooManyReferences() async throws {
        try await TestServer.run { server, client in
            let urls = (0..<15).map { "\"https://img.example.com/\($0).png\"" }.joined(separator: ",")
            let response = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","image_urls":[\#(urls)]}"#, key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage?.contains("at most 14") == true)
        }
    }

    @Test("malformed JSON and non-object bodies are 400", arguments: ["{bad", "", "[1,2]", "\"prompt\"", "null"])
    func malformed(body: String) async throws {
        try await TestServer.run { server, client in
            let response = try await client.post("/v2/nano-banana-2", json: body, key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage != nil)
        }
    }

    @Test("a body over the limit is 413 with a JSON error")
    func tooLarge() async throws {
        try await TestServer.run(configure: { $0.maxBodyBytes = 2048 }) { server, client in
            let prompt = String(repeating: "a", count: 4096)
            let response = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"\#(prompt)"}"#, key: server.key)
            #expect(response.status == .contentTooLarge)
            #expect(response.errorMessage?.contains("2048") == true)
        }
    }

    @Test("an unknown model is 404 on v1 and v2; an unknown route is a JSON 404")
    func unknownModelAndRoute() async throws {
        try await TestServer.run { server, client in
            for path in ["/v1/flux-9", "/v2/flux-9"] {
                let response = try await client.post(path, json: #"{"prompt":"x"}"#, key: server.key)
                #expect(response.status == .notFound)
                #expect(response.errorMessage?.contains("flux-9") == true)
            }
            let route = try await client.get("/v3/anything", key: server.key)
            #expect(route.status == .notFound)
            #expect(route.headers[.contentType] == "application/json")
            #expect(route.errorMessage?.contains("/v3/anything") == true)
        }
    }

    @Test("healthz answers without a key")
    func health() async throws {
        try await TestServer.run { _, client in
            let response = try await client.get("/healthz", key: nil)
            #expect(response.status == .ok)
        }
    }

    @Test("readyz is ok while the store answers, and 503 with a JSON error once it does not")
    func ready() async throws {
        try await TestServer.run { server, client in
            #expect(try await client.get("/readyz", key: nil).status == .ok)
            // Only a PostgreSQL store can be taken away from under a running server.
            guard server.closeStore() else { return }
            let response = try await client.get("/readyz", key: nil)
            #expect(response.status == .serviceUnavailable)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.errorMessage?.contains("unavailable") == true)
            let submit = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(submit.status == .serviceUnavailable)
        }
    }
}

@Suite("Credits on the wire")
struct CreditRouteTests {
    @Test("a metered key pays by resolution: x-cost and x-remaining-credits on v1, cost and balance in metrics")
    func charged() async throws {
        try await TestServer.run { server, client in
            let metered = try await server.components.keys.create(name: "metered", credits: 100).secret
            let response = try await client.post(
                "/v1/nano-banana-2", json: #"{"prompt":"x","output_resolution":"512px"}"#, key: metered)
            #expect(response.status == .ok)
            #expect(response.headers[.cost] == "45")
            #expect(response.headers[.remainingCredits] == "55")
            let id = try #require(response.headers[.requestID])
            let result = try await client.get("/v2/requests/\(id)", key: metered).decoded(ResultBody.self)
            #expect(result.metrics.cost == 45)
            #expect(result.metrics.remainingCredits == 55)
        }
    }

    @Test("a request the key cannot pay for is 406 with the balance; a failed one is refunded")
    func insufficientAndRefund() async throws {
        try await TestServer.run { server, client in
            let metered = try await server.components.keys.create(name: "metered", credits: 70).secret
            let poor = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","output_resolution":"4K"}"#, key: metered)
            #expect(poor.status == .notAcceptable)
            #expect(poor.errorMessage?.contains("costs 151 credits and the key has 70") == true)
            let blocked = try await client.post("/v1/nano-banana-2", json: #"{"prompt":"forbidden"}"#, key: metered)
            #expect(blocked.status == .unprocessableContent)
            let id = try #require(try blocked.decoded(ErrorBody.self).requestID)
            let status = try await client.get("/v2/requests/\(id)/status", key: metered).decoded(StatusBody.self)
            #expect(status.metrics.cost == 0)
            #expect(status.metrics.remainingCredits == 70)
        }
    }
}

@Suite("Rate limits on the wire")
struct RateLimitRouteTests {
    @Test("past a key's burst, submits get 429 with Retry-After and x-ratelimit headers")
    func burst() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let created = try await server.components.keys.create(name: "limited")
            _ = try await server.components.keys.setLimits(
                created.key.id, requestsPerMinute: 6, burst: 2, maxInFlight: nil)
            for _ in 0..<2 {
                #expect(
                    try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret).status
                        == .ok)
            }
            let limited = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] == "10")
            #expect(limited.headers[.rateLimitLimit] == "6")
            #expect(limited.headers[.rateLimitRemaining] == "0")
            #expect(limited.errorMessage?.contains("requests per minute") == true)
            // Another key is not affected.
            #expect(try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key).status == .ok)
        }
    }

    @Test("the server's in-flight default applies to keys without their own")
    func inFlightDefault() async throws {
        try await TestServer.run(configure: {
            $0.runsWorkers = false; $0.limits.maxInFlight = 1
        }) { server, client in
            #expect(try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key).status == .ok)
            let limited = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.errorMessage?.contains("requests in flight") == true)
        }
    }
}

@Suite("Permissions")
struct PermissionRouteTests {
    @Test("a disabled key is 403; enabled again it works; a revoked key stays 401")
    func disabled() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let created = try await server.components.keys.create(name: "d")
            _ = try await server.components.keys.setAccess(
                created.key.id, role: nil, allowedModels: nil, disabled: true)
            let refused = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret)
            #expect(refused.status == .forbidden)
            #expect(refused.errorMessage?.contains("disabled") == true)
            _ = try await server.components.keys.setAccess(
                created.key.id, role: nil, allowedModels: nil, disabled: false)
            #expect(
                try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret).status == .ok)
        }
    }

    @Test("a key restricted to some models gets 403 for the others")
    func restricted() async throws {
        try await TestServer.run(
            configure: {
                $0.runsWorkers = false; $0.models["nano-banana-pro"] = "gemini-3-pro-image-preview"
            }
        ) { server, client in
            let created = try await server.components.keys.create(name: "pro-only")
            _ = try await server.components.keys.setAccess(
                created.key.id, role: nil, allowedModels: .some(["nano-banana-pro"]), disabled: nil)
            let refused = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: created.secret)
            #expect(refused.status == .forbidden)
            #expect(refused.errorMessage?.contains("nano-banana-pro") == true)
            #expect(
                try await client.post("/v2/nano-banana-pro", json: #"{"prompt":"x"}"#, key: created.secret).status
                    == .ok)
        }
    }

    @Test("admin routes create, list and top up keys for an admin key, and are 403 for others")
    func admin() async throws {
        try await TestServer.run { server, client in
            #expect(try await client.get("/admin/keys", key: server.key).status == .forbidden)
            #expect(try await client.get("/admin/keys", key: nil).status == .unauthorized)
            let admin = try await server.components.keys.create(name: "root")
            _ = try await server.components.keys.setAccess(
                admin.key.id, role: .admin, allowedModels: nil, disabled: nil)

            let created = try await client.post(
                "/admin/keys", json: #"{"name":"alice","credits":100,"rpm":60,"max_in_flight":5}"#, key: admin.secret)
            #expect(created.status == .created)
            let body = try JSONSerialization.jsonObject(with: Data(created.body.readableBytesView)) as? [String: Any]
            let secret = try #require(body?["secret"] as? String)
            let id = try #require(body?["id"] as? String)
            #expect(body?["credits"] as? Int == 100)
            #expect(body?["max_in_flight"] as? Int == 5)
            // The new key works at once.
            #expect(try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: secret).status == .ok)

            let topped = try await client.post("/admin/keys/\(id)/credits", json: #"{"amount":50}"#, key: admin.secret)
            #expect(topped.status == .ok)
            let list = try await client.get("/admin/keys", key: admin.secret)
            #expect(list.status == .ok)
            let keys =
                (try JSONSerialization.jsonObject(with: Data(list.body.readableBytesView)) as? [String: Any])?["keys"]
                as? [[String: Any]]
            #expect(keys?.count == 3)
            #expect(keys?.contains { $0["secret"] != nil } == false)
            #expect(
                try await client.post("/admin/keys/nope/credits", json: #"{"amount":5}"#, key: admin.secret).status
                    == .notFound)
            #expect(
                try await client.post("/admin/keys", json: #"{"nam":"x"}"#, key: admin.secret).status == .badRequest)
        }
    }
}
