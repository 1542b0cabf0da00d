import Contract
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NanoBananaAPI
import Store
import Testing

@testable import Server

/// The OpenAPI document against the router: every route is described, every description
/// is a route, and the document is served.
@Suite("The contract")
struct ContractTests {
    @Test("the document describes exactly the routes the router answers, HEAD included")
    func coverage() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, _ in
            let router = try buildRouter(server.components, logger: Logger(label: "test"))
            // Building the responder adds the HEAD routes, as the running server has them.
            _ = router.buildResponder()
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
            let described = try OpenAPIDocument.operations()
            #expect(
                registered.subtracting(described).isEmpty,
                "Routes the document does not describe: \(registered.subtracting(described).sorted())")
            #expect(
                described.subtracting(registered).isEmpty,
                "Described operations no route answers: \(described.subtracting(registered).sorted())")
            #expect(registered.contains("HEAD /v2/requests/{id}/status"))
        }
    }

    @Test("GET /openapi.json is the document without a key, listing the server's model slugs")
    func served() async throws {
        try await TestServer.run(
            configure: {
                $0.runsWorkers = false
                $0.models["nano-banana-pro"] = "gemini-3-pro-image-preview"
            }
        ) { _, client in
            let response = try await client.get("/openapi.json", key: nil)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            let document = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
            #expect(document[path: ["openapi"]] == .string("3.1.0"))
            #expect(
                document[path: ["components", "parameters", "Model", "schema", "enum"]]
                    == .array([.string("nano-banana-2"), .string("nano-banana-pro")]))
            var written = try OpenAPIDocument.json()
            written[path: ["components", "parameters", "Model", "schema", "enum"]] = .array([
                .string("nano-banana-2"), .string("nano-banana-pro"),
            ])
            #expect(document == written)
        }
    }

    @Test("the document's webhook URL is the server's rule: the same pattern and length")
    func webhookURL() throws {
        let schema = try OpenAPIDocument.json()[path: ["components", "schemas", "WebhookURL"]]
        #expect(schema?[path: ["pattern"]] == .string(WebhookURLRule.pattern))
        #expect(schema?[path: ["maxLength"]] == .integer(Int64(WebhookURLRule.maxLength)))
        #expect(WebhookURLRule.problem(with: "https://hooks.example.com/nb?token=a%20b") == nil)
        #expect(WebhookURLRule.problem(with: "http://[::1]:8080/x") == nil)
        for refused in ["HTTP://0*", "https://a.example/x#top", "https://a.example/ x", "https://é.example/"] {
            #expect(WebhookURLRule.problem(with: refused) != nil, "\(refused)")
        }
    }

    @Test("a known path asked with another method is 405 naming the methods it answers; an unknown path 404")
    func methodNotAllowed() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let health = try await client.execute(uri: "/healthz", method: .delete)
            #expect(health.status == .methodNotAllowed)
            #expect(health.headers[.allow] == "GET, HEAD")
            #expect(health.errorMessage == "Method DELETE is not allowed on this route; it answers GET, HEAD.")
            let submit = try await client.get("/v2/nano-banana-2", key: server.key)
            #expect(submit.status == .methodNotAllowed)
            #expect(submit.headers[.allow] == "POST")
            let status = try await client.execute(uri: "/v2/requests/abc/status", method: .post)
            #expect(status.headers[.allow] == "GET, HEAD")
            let history = try await client.execute(uri: "/v2/requests", method: .post)
            #expect(history.status == .methodNotAllowed && history.headers[.allow] == "GET, HEAD")
            #expect(try await client.get("/v2/requests/abc/status/more", key: server.key).status == .notFound)
            #expect(try await client.get("/nothing", key: nil).status == .notFound)
        }
    }

    @Test("a route path matches a request path segment by segment, captures matching any one, constants first")
    func allowedMethods() {
        let allowed = AllowedMethods(
            [
                ("/v2/requests/{id}", .get), ("/v2/{model}", .post), ("/admin/keys", .post), ("/admin/keys", .get),
                ("/v2/requests", .get), ("/a/{x}/c", .get), ("/a/b/{y}", .post),
            ],
            headForGet: true)
        #expect(allowed.methods(forPath: "/v2/requests/x") == [.get, .head])
        #expect(allowed.methods(forPath: "/v2/anything") == [.post])
        // A constant segment wins over a capture, as in the router.
        #expect(allowed.methods(forPath: "/v2/requests") == [.get, .head])
        #expect(allowed.methods(forPath: "/a/b/c") == [.post])
        #expect(allowed.methods(forPath: "/a/z/c") == [.get, .head])
        #expect(allowed.methods(forPath: "/admin/keys/") == [.get, .head, .post])
        #expect(allowed.methods(forPath: "/v2") == [])
        #expect(allowed.methods(forPath: "/v2/requests/x/y") == [])
        // As in the router, a literal segment wins over a capture.
        let credits = AllowedMethods(
            [("/v1/{model}", .post), ("/v1/get-user-credits", .get), ("/{a}/{b}", .delete)], headForGet: true)
        #expect(credits.methods(forPath: "/v1/get-user-credits") == [.get, .head])
        #expect(credits.methods(forPath: "/v1/nano-banana-2") == [.post])
        #expect(credits.methods(forPath: "/v3/x") == [.delete])
    }
}
