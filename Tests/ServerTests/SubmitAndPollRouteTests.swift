import Foundation
import HTTPTypes
import HummingbirdTesting
import NanoBananaAPI
import Testing

@testable import Server

@Suite("v2 submit, status and result routes")
struct SubmitAndPollRouteTests {
    @Test("submit returns the request id and absolute status, response and poll URLs")
    func submitBody() async throws {
        try await TestServer.run { server, client in
            let response = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"a 'sign'"}"#, key: server.key)
            #expect(response.status == .ok)
            let body = try response.decoded(SubmitBody.self)
            #expect(body.status == .queued)
            #expect(!body.requestID.isEmpty)
            #expect(
                body.statusURL.hasPrefix("http://") && body.statusURL.hasSuffix("/v2/requests/\(body.requestID)/status")
            )
            #expect(body.responseURL.hasSuffix("/v2/requests/\(body.requestID)"))
            #expect(body.pollURL == body.statusURL)
        }
    }

    @Test("the configured public URL is the base of returned URLs")
    func publicBaseURL() async throws {
        try await TestServer.run(configure: { $0.publicBaseURL = "https://img.example.com/" }) { server, client in
            let body = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
                .decoded(SubmitBody.self)
            #expect(body.statusURL == "https://img.example.com/v2/requests/\(body.requestID)/status")
        }
    }

    @Test("a waiting job is QUEUED with its queue position, and its result is 202")
    func queuedStatus() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            var ids: [String] = []
            for _ in 0..<3 {
                ids.append(
                    try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
                        .decoded(SubmitBody.self).requestID)
            }
            let status = try await client.get("/v2/requests/\(ids[2])/status", key: server.key)
            #expect(status.status == .ok)
            let body = try status.decoded(StatusBody.self)
            #expect(body.status == .queued)
            #expect(body.queuePosition == 3)
            #expect(body.metrics.queueTime != nil)
            let result = try await client.get("/v2/requests/\(ids[0])", key: server.key)
            #expect(result.status == .accepted)
            #expect(try result.decoded(StatusBody.self).queuePosition == 1)
        }
    }

    @Test("a running job is PROCESSING with no queue position")
    func processingStatus() async throws {
        let engine = GatedEngine()
        try await TestServer.run(engine: engine) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
                .decoded(SubmitBody.self).requestID
            await engine.waitUntilStarted()
            let body = try await client.get("/v2/requests/\(id)/status", key: server.key).decoded(StatusBody.self)
            #expect(body.status == .processing)
            #expect(body.queuePosition == nil)
            engine.open()
            let job = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            #expect(job?.status == .completed)
        }
    }

    @Test("a COMPLETED result carries a signed output URL that serves the image without a key")
    func completedResult() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post(
                "/v2/nano-banana-2",
                json: #"{"prompt":"a 'hello' sign","output_resolution":"512px","aspect_ratio":"16:9","seed":7}"#,
                key: server.key
            ).decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))

            let response = try await client.get("/v2/requests/\(id)", key: server.key)
            #expect(response.status == .ok)
            let result = try response.decoded(ResultBody.self)
            #expect(result.status == .completed)
            #expect(result.engine == "preview")
            #expect(result.width == 688 && result.height == 384)
            #expect(result.seed == 7)
            #expect(result.text?.isEmpty == false)
            #expect(result.metrics.inferenceTime != nil && result.metrics.totalTime != nil)
            #expect(result.output.hasPrefix("http://"))

            let image = try await client.get(pathAndQuery(result.output), key: nil)
            #expect(image.status == .ok)
            #expect(image.headers[.contentType] == "image/jpeg")
            #expect(Array(image.bytes.prefix(3)) == [0xFF, 0xD8, 0xFF])

            let status = try await client.get("/v2/requests/\(id)/status", key: server.key).decoded(StatusBody.self)
            #expect(status.status == .completed)
        }
    }

    @Test("IMAGE modality returns no text")
    func imageOnly() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","response_modalities":"IMAGE","output_resolution":"512px"}"#,
                key: server.key
            ).decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let result = try await client.get("/v2/requests/\(id)", key: server.key).decoded(ResultBody.self)
            #expect(result.text == nil)
        }
    }

    @Test("a tampered output link is 403 and an expired one is 404")
    func outputLinkSignature() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","output_resolution":"512px"}"#, key: server.key
            )
            .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let output = try await client.get("/v2/requests/\(id)", key: server.key).decoded(ResultBody.self).output
            let path = pathAndQuery(output)

            let tampered = path.replacingOccurrences(of: "signature=", with: "signature=0")
            let forbidden = try await client.get(tampered, key: nil)
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.errorMessage?.contains("signature") == true)
            let unsigned = try await client.get("/v2/files/\(id).jpg", key: nil)
            #expect(unsigned.status == .forbidden)

            server.clock.advance(by: 3601)
            #expect(try await client.get(path, key: nil).status == .notFound)
        }
    }

    @Test("a FAILED request is 422 on status and result, with the error")
    func failedIs422() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"something forbidden here"}"#, key: server.key
            )
            .decoded(SubmitBody.self).requestID
            let job = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            #expect(job?.status == .failed)
            for uri in ["/v2/requests/\(id)/status", "/v2/requests/\(id)"] {
                let response = try await client.get(uri, key: server.key)
                #expect(response.status == .unprocessableContent)
                let body = try response.decoded(StatusBody.self)
                #expect(body.status == .failed)
                #expect(body.error?.contains("Content blocked") == true)
                #expect(body.error?.contains("forbidden") == true)
            }
        }
    }

    @Test("unknown, another key's and expired requests are all 404")
    func notFound() async throws {
        try await TestServer.run { server, client in
            #expect(try await client.get("/v2/requests/nope/status", key: server.key).status == .notFound)
            #expect(try await client.get("/v2/requests/nope", key: server.key).status == .notFound)

            let id = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","output_resolution":"512px"}"#, key: server.key
            )
            .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let other = try await server.components.keys.create(name: "other").secret
            let foreign = try await client.get("/v2/requests/\(id)", key: other)
            #expect(foreign.status == .notFound)
            #expect(foreign.errorMessage?.contains(id) == true)
            #expect(try await client.get("/v2/requests/\(id)/status", key: other).status == .notFound)

            #expect(try await client.get("/v2/requests/\(id)", key: server.key).status == .ok)
            server.clock.advance(by: 3601)
            #expect(try await client.get("/v2/requests/\(id)", key: server.key).status == .notFound)
            #expect(try await client.get("/v2/requests/\(id)/status", key: server.key).status == .notFound)
        }
    }
}
