import Foundation
import HTTPTypes
import HummingbirdTesting
import NanoBananaAPI
import Store
import Testing

@testable import Server

@Suite("v1 sync route")
struct SyncRouteTests {
    @Test("v1 returns JPEG bytes of the table size with request id, seed and timing headers")
    func jpegBytes() async throws {
        try await TestServer.run { server, client in
            let response = try await client.post(
                "/v1/nano-banana-2",
                json: #"{"prompt":"a 'MEXITALY' sign","aspect_ratio":"3:2","output_resolution":"512px","seed":99}"#,
                key: server.key)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "image/jpeg")
            #expect(response.headers[.seedValue] == "99")
            #expect(Double(response.headers[.generationTime] ?? "") != nil)
            let id = try #require(response.headers[.requestID])
            #expect(Array(response.bytes.prefix(3)) == [0xFF, 0xD8, 0xFF])
            #expect(JPEGSize.of(response.bytes) == ImageDimensions(width: 632, height: 424))
            // The same job is visible through v2.
            #expect(try await client.get("/v2/requests/\(id)", key: server.key).status == .ok)
        }
    }

    @Test("v1 returns PNG when asked")
    func pngBytes() async throws {
        try await TestServer.run { server, client in
            let response = try await client.post(
                "/v1/nano-banana-2", json: #"{"prompt":"x","output_format":"png","output_resolution":"512px"}"#,
                key: server.key)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "image/png")
            #expect(Array(response.bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        }
    }

    @Test("the same prompt and seed give identical bytes; another seed does not")
    func deterministic() async throws {
        try await TestServer.run { server, client in
            let json = #"{"prompt":"a 'Strada64' sign","output_resolution":"512px","seed":5}"#
            let first = try await client.post("/v1/nano-banana-2", json: json, key: server.key).bytes
            let second = try await client.post("/v1/nano-banana-2", json: json, key: server.key).bytes
            let other = try await client.post(
                "/v1/nano-banana-2", json: #"{"prompt":"a 'Strada64' sign","output_resolution":"512px","seed":6}"#,
                key: server.key
            ).bytes
            #expect(first == second)
            #expect(first != other)
        }
    }

    @Test("a blocked prompt on v1 is 422 with the error and the request id")
    func blocked() async throws {
        try await TestServer.run { server, client in
            let response = try await client.post(
                "/v1/nano-banana-2", json: #"{"prompt":"Forbidden fruit"}"#, key: server.key)
            #expect(response.status == .unprocessableContent)
            let body = try response.decoded(ErrorBody.self)
            #expect(body.error.hasPrefix("Content blocked"))
            #expect(body.requestID != nil)
            #expect(body.status == .failed)
        }
    }

    @Test("a job past its timeout FAILS as timed out, and its engine is cancelled")
    func jobTimeout() async throws {
        let engine = GatedEngine()
        try await TestServer.run(configure: { $0.jobTimeout = 0.3 }, engine: engine) { server, client in
            let response = try await client.post("/v1/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(response.status == .gatewayTimeout)
            #expect(response.errorMessage?.contains("timed out") == true)
            let id = try #require(try response.decoded(ErrorBody.self).requestID)
            let status = try await client.get("/v2/requests/\(id)/status", key: server.key)
            #expect(status.status == .unprocessableContent)
            let body = try status.decoded(StatusBody.self)
            #expect(body.status == .failed)
            #expect(body.error?.hasPrefix("The request timed out: the engine did not finish within") == true)
            #expect(engine.cancelled == 1)
        }
    }

    @Test("an upstream that stays unavailable is 502 on v1 and a FAILED 422 on v2")
    func upstreamUnavailable() async throws {
        let engine = FailingEngine(failure: .upstreamUnavailable("HTTP 503: overloaded (after 5 attempts)."))
        try await TestServer.run(engine: engine) { server, client in
            let response = try await client.post("/v1/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(response.status == .badGateway)
            let body = try response.decoded(ErrorBody.self)
            #expect(body.error.contains("unavailable"))
            let id = try #require(body.requestID)
            let status = try await client.get("/v2/requests/\(id)/status", key: server.key)
            #expect(status.status == .unprocessableContent)
        }
    }

    @Test(
        "a second server on the same data directory refuses to start",
        .enabled(if: !TestStore.routesOnPostgres, "SQLite only: PostgreSQL is shared on purpose"))
    func exclusiveDataDirectory() async throws {
        try await TestServer.run { server, _ in
            await #expect(throws: DataDirectoryLockError.self) {
                _ = try await ServerComponents(configuration: server.components.configuration)
            }
        }
    }

    @Test("past the sync deadline v1 answers 504 naming the request, which still completes")
    func deadline() async throws {
        let engine = GatedEngine()
        try await TestServer.run(configure: { $0.syncTimeout = 0.2 }, engine: engine) { server, client in
            let response = try await client.post("/v1/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            #expect(response.status == .gatewayTimeout)
            let body = try response.decoded(ErrorBody.self)
            let id = try #require(body.requestID)
            #expect(body.responseURL?.hasSuffix("/v2/requests/\(id)") == true)
            #expect(body.error.contains("did not finish"))
            engine.open()
            let job = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            #expect(job?.status == .completed)
            #expect(try await client.get("/v2/requests/\(id)", key: server.key).status == .ok)
        }
    }

    @Test("a v1 request whose key is revoked by another process while its job is queued ends at once")
    func revokedWhileQueued() async throws {
        try await TestServer.run(configure: {
            $0.runsWorkers = false; $0.syncTimeout = 60
        }) { server, client in
            let waiting = Task {
                try await client.post("/v1/nano-banana-2", json: #"{"prompt":"x"}"#, key: server.key)
            }
            // The job is queued before the key goes.
            var queued = 0
            for _ in 0..<200 where queued == 0 {
                try await Task.sleep(for: .milliseconds(20))
                queued = try await server.components.backend.jobs.counts()[.queued] ?? 0
            }
            let started = ContinuousClock.now
            _ = try await server.otherProcessKeys().revoke("test")
            let response = try await waiting.value
            // Well within the 60 s sync timeout: the waiter rereads the job now and then.
            #expect(ContinuousClock.now - started < .seconds(20))
            #expect(response.status == .unprocessableContent)
            #expect(response.errorMessage?.contains("revoked") == true)
        }
    }
}

/// Reads the size from a JPEG's SOF marker.
enum JPEGSize {
    static func of(_ bytes: [UInt8]) -> ImageDimensions? {
        var index = 2
        while index + 9 < bytes.count {
            guard bytes[index] == 0xFF else { return nil }
            let marker = bytes[index + 1]
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) {
                let height = Int(bytes[index + 5]) << 8 | Int(bytes[index + 6])
                let width = Int(bytes[index + 7]) << 8 | Int(bytes[index + 8])
                return ImageDimensions(width: width, height: height)
            }
            index += 2 + length
        }
        return nil
    }
}
