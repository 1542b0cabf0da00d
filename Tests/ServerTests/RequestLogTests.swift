import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NanoBananaAPI
import TestSupport
import Testing

@testable import Server

/// The access line of every request and the transition lines of its job, as an operator
/// reads them: route templates, statuses, the key's id, one request id end to end, and
/// never a secret, a prompt or a link's signature.
@Suite("Access and job logs")
struct RequestLogTests {
    static let prompt = "a gold leaf sign that says 'PRIVATE-PROMPT-7731'"
    static let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("a submit's access line and its job's lines carry the client's x-request-id, the key and the job id")
    func submitToCompletion() async throws {
        let logs = LogRecorder()
        try await TestServer.run(logs: logs) { server, client in
            let keyID = try #require(try await server.components.keys.authenticate(secret: server.key)?.id)
            let submit = try await client.execute(
                uri: "/v2/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .requestID: "client-req-42"],
                body: ByteBuffer(string: #"{"prompt":"\#(Self.prompt)","output_resolution":"512px"}"#))
            #expect(submit.status == .ok)
            let jobID = try submit.decoded(SubmitBody.self).requestID
            #expect(
                await waitUntil(.seconds(30)) {
                    logs.logged.contains { $0["job_event"] == "completed" && $0["job_id"] == jobID }
                })

            let access = try #require(logs.logged.first { $0.message == "HTTP request" && $0["method"] == "POST" })
            #expect(access.level == .info)
            #expect(access["route"] == "/v2/{model}")
            #expect(access["status"] == "200")
            #expect(access["request_id"] == "client-req-42")
            #expect(access["key_id"] == keyID)
            #expect(access["job_id"] == jobID)
            #expect(access["duration_ms"].flatMap(Double.init).map { $0 >= 0 } == true)
            #expect(access["bytes_out"].flatMap(Int.init).map { $0 > 0 } == true)
            #expect(access["hb.request.id"] == nil)

            let jobLines = logs.logged.filter { $0["job_id"] == jobID && $0["job_event"] != nil }
            // A worker may take the job before the submit logs it queued; it completes last.
            #expect(Set(jobLines.compactMap { $0["job_event"] }) == ["queued", "started", "completed"])
            #expect(jobLines.count == 3 && jobLines.last?["job_event"] == "completed")
            for line in jobLines {
                #expect(line["request_id"] == "client-req-42")
                #expect(line["key_id"] == keyID)
                #expect(line["model"] == "nano-banana-2")
                #expect(line["engine"] == "preview")
            }
            Self.expectNothingSecret(in: logs, key: server.key)
        }
    }

    @Test("reads are logged by route template with the traceparent's trace-id; errors with the status sent")
    func routesAndErrors() async throws {
        let logs = LogRecorder()
        try await TestServer.run(logs: logs) { server, client in
            let jobID = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","output_resolution":"512px"}"#, key: server.key
            ).decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: jobID, timeout: .seconds(300))
            let traced = try await client.execute(
                uri: "/v2/requests/\(jobID)/status", method: .get,
                headers: [.apiKey: server.key, .traceparent: Self.traceparent])
            #expect(traced.status == .ok)
            let result = try await client.get("/v2/requests/\(jobID)", key: server.key).decoded(ResultBody.self)
            #expect(try await client.get(pathAndQuery(result.output), key: nil).status == .ok)
            // Errors thrown below the access line, rendered by the error middleware.
            #expect(try await client.get("/v2/requests/nope/status", key: server.key).status == .notFound)
            #expect(try await client.get("/v2/requests/\(jobID)", key: "nb_wrong").status == .unauthorized)
            #expect(
                try await client.post("/v2/nano-banana-2", json: #"{"prompt":""}"#, key: server.key).status
                    == .badRequest)
            #expect(try await client.get("/no/such/route", key: nil).status == .notFound)
            // An id that breaks the rules is ignored for a new one.
            let spaced = try await client.execute(
                uri: "/healthz", method: .get, headers: [.requestID: "has spaces", .traceparent: "00-bad"])
            #expect(spaced.status == .ok)

            let access = logs.logged.filter { $0.message == "HTTP request" }
            let seen = access.map { "\($0["method"] ?? "") \($0["route"] ?? "") \($0["status"] ?? "")" }
            #expect(
                seen == [
                    "POST /v2/{model} 200", "GET /v2/requests/{id}/status 200", "GET /v2/requests/{id} 200",
                    "GET /v2/files/{name} 200", "GET /v2/requests/{id}/status 404", "GET /v2/requests/{id} 401",
                    "POST /v2/{model} 400", "GET NotFound 404", "GET /healthz 200",
                ])
            #expect(access[1]["request_id"] == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(access[1]["job_id"] == jobID)
            #expect(access[5]["key_id"] == nil)
            for line in access where line["route"] != "/v2/requests/{id}/status" || line["status"] != "200" {
                let id = try #require(line["request_id"])
                #expect(id.count == 32 && id.allSatisfy(\.isHexDigit) && id != "4bf92f3577b34da6a3ce929d0e0e4736")
            }
            #expect(Set(access.compactMap { $0["request_id"] }).count == access.count)
            Self.expectNothingSecret(in: logs, key: server.key)
        }
    }

    @Test("v1 keeps answering the job id in x-request-id while its logs carry the client's")
    func syncRoute() async throws {
        let logs = LogRecorder()
        try await TestServer.run(logs: logs) { server, client in
            let response = try await client.execute(
                uri: "/v1/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .requestID: "sync-1"],
                body: ByteBuffer(string: #"{"prompt":"\#(Self.prompt)","output_resolution":"512px"}"#))
            #expect(response.status == .ok)
            let jobID = try #require(response.headers[.requestID])
            #expect(jobID != "sync-1")
            let access = try #require(logs.logged.first { $0.message == "HTTP request" })
            #expect(access["route"] == "/v1/{model}" && access["request_id"] == "sync-1")
            #expect(access["job_id"] == jobID)
            #expect(logs.logged.contains { $0["job_event"] == "queued" && $0["request_id"] == "sync-1" })
            Self.expectNothingSecret(in: logs, key: server.key)
        }
    }

    /// No line holds the key's secret, the prompt, or an output link's signature.
    static func expectNothingSecret(in logs: LogRecorder, key: String) {
        for line in logs.logged {
            let text = line.message + " " + line.metadata.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            #expect(!text.contains(key))
            #expect(!text.contains("PRIVATE-PROMPT"))
            #expect(!text.contains("signature="))
            #expect(!text.contains("expires="))
        }
    }
}
