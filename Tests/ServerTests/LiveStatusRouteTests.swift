import Foundation
import HTTPTypes
import HummingbirdTesting
import NanoBananaAPI
import Testing

@testable import Server

@Suite("live status: long-poll, Prefer: wait, the event stream")
struct LiveStatusRouteTests {
    private static let body = #"{"prompt":"a 'live' sign","output_resolution":"512px"}"#

    @Test("status?wait=N answers as soon as the request finishes")
    func longPollAnswersOnFinish() async throws {
        let engine = GatedEngine()
        try await TestServer.run(engine: engine) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            await engine.waitUntilStarted()
            async let polled = client.get("/v2/requests/\(id)/status?wait=60", key: server.key)
            // The long-poll waits in the hub, not in a loop: open the gate once it does.
            #expect(await yieldUntil { server.components.hub.waiterCount == 1 })
            engine.open()
            let response = try await polled
            #expect(response.status == .ok)
            #expect(try response.decoded(StatusBody.self).status == .completed)
            #expect(server.components.hub.trackedCount == 0)
        }
    }

    @Test("status?wait=N answers with the current status after N seconds")
    func longPollTimesOut() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            let response = try await client.get("/v2/requests/\(id)/status?wait=0.2", key: server.key)
            #expect(response.status == .ok)
            let status = try response.decoded(StatusBody.self)
            #expect(status.status == .queued)
            #expect(status.queuePosition == 1)
            #expect(server.components.hub.trackedCount == 0)
        }
    }

    @Test("a finished request's long-poll answers at once", arguments: ["0", "60"])
    func longPollOfFinished(wait: String) async throws {
        try await TestServer.run { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let response = try await client.get("/v2/requests/\(id)/status?wait=\(wait)", key: server.key)
            #expect(try response.decoded(StatusBody.self).status == .completed)
        }
    }

    @Test("a wait that is not 0 to 60 seconds is refused, naming it", arguments: ["-1", "61", "abc", "nan", "", "1e9"])
    func badWait(wait: String) async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            let response = try await client.get("/v2/requests/\(id)/status?wait=\(wait)", key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage?.contains("Invalid 'wait'") == true)
        }
    }

    @Test("Prefer: wait=N on a submit answers with the result once it finishes within N")
    func preferWaitFinishes() async throws {
        try await TestServer.run { server, client in
            let response = try await client.execute(
                uri: "/v2/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .prefer: "respond-async, wait=60"],
                body: .init(string: Self.body))
            #expect(response.status == .ok)
            #expect(response.headers[.preferenceApplied] == "wait=60")
            let result = try response.decoded(ResultBody.self)
            #expect(result.output.contains("/files/"))
            #expect(server.components.hub.trackedCount == 0)
        }
    }

    @Test("Prefer: wait=N answers with the usual QUEUED body when the job is still running")
    func preferWaitTimesOut() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let response = try await client.execute(
                uri: "/v2/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .prefer: "wait=0.2"],
                body: .init(string: Self.body))
            #expect(response.status == .ok)
            #expect(response.headers[.preferenceApplied] == "wait=0.2")
            #expect(try response.decoded(SubmitBody.self).status == .queued)
            #expect(server.components.hub.trackedCount == 0)
        }
    }

    @Test("Prefer: wait=N with a failure answers 422 with the error; unreadable preferences are ignored")
    func preferWaitFails() async throws {
        let engine = FailingEngine(failure: .contentBlocked("no."))
        try await TestServer.run(engine: engine) { server, client in
            let failed = try await client.execute(
                uri: "/v2/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .prefer: "wait=30"],
                body: .init(string: Self.body))
            #expect(failed.status == .unprocessableContent)
            #expect(try failed.decoded(StatusBody.self).status == .failed)
            let ignored = try await client.execute(
                uri: "/v2/nano-banana-2", method: .post,
                headers: [.apiKey: server.key, .contentType: "application/json", .prefer: "wait=soon"],
                body: .init(string: Self.body))
            #expect(ignored.status == .ok)
            #expect(ignored.headers[.preferenceApplied] == nil)
            #expect(try ignored.decoded(SubmitBody.self).status == .queued)
        }
    }

    @Test("the event stream tells the queue position, the start and the result, then ends")
    func eventStream() async throws {
        let engine = GatedEngine()
        try await TestServer.run(engine: engine) { server, client in
            let first = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            await engine.waitUntilStarted()
            let second = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            async let firstEvents = client.get("/v2/requests/\(first)/events", key: server.key)
            async let secondEvents = client.get("/v2/requests/\(second)/events", key: server.key)
            #expect(await yieldUntil { server.components.hub.waiterCount == 2 })
            engine.open()

            let running = try await firstEvents
            #expect(running.headers[.contentType] == "text/event-stream")
            let runningEvents = ServerSentEvent.parse(String(buffer: running.body))
            #expect(runningEvents.map(\.event) == ["processing", "completed"])
            #expect(runningEvents.last?.id == "completed")
            let result = try JSONDecoder().decode(ResultBody.self, from: Data(runningEvents.last!.data.utf8))
            #expect(result.requestID == first)

            let waiting = ServerSentEvent.parse(String(buffer: try await secondEvents.body))
            #expect(waiting.first?.event == "queued")
            #expect(waiting.first?.id == "queued.1")
            let queued = try JSONDecoder().decode(StatusBody.self, from: Data(waiting.first!.data.utf8))
            #expect(queued.queuePosition == 1)
            #expect(waiting.last?.event == "completed")
            #expect(Set(waiting.map(\.event)).isSubset(of: ["queued", "processing", "completed"]))
            #expect(server.components.hub.trackedCount == 0)
        }
    }

    @Test("a stream resumed with Last-Event-ID sends only what changed since")
    func resume() async throws {
        try await TestServer.run { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let again = try await client.execute(
                uri: "/v2/requests/\(id)/events", method: .get,
                headers: [.apiKey: server.key, .lastEventID: "completed"])
            #expect(again.status == .ok)
            #expect(ServerSentEvent.parse(String(buffer: again.body)).isEmpty)
            let fresh = try await client.execute(
                uri: "/v2/requests/\(id)/events", method: .get,
                headers: [.apiKey: server.key, .lastEventID: "processing"])
            #expect(ServerSentEvent.parse(String(buffer: fresh.body)).map(\.event) == ["completed"])
        }
    }

    @Test("a failed request's stream ends with a failed event carrying the error")
    func failedStream() async throws {
        let engine = FailingEngine(failure: .contentBlocked("no."))
        try await TestServer.run(engine: engine) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
            let events = ServerSentEvent.parse(
                String(buffer: try await client.get("/v2/requests/\(id)/events", key: server.key).body))
            #expect(events.map(\.event) == ["failed"])
            let status = try JSONDecoder().decode(StatusBody.self, from: Data(events[0].data.utf8))
            #expect(status.status == .failed)
            #expect(status.error?.isEmpty == false)
        }
    }

    @Test("a quiet stream sends a comment to keep proxies open")
    func keepAlive() async throws {
        let engine = GatedEngine()
        try await TestServer.run(configure: { $0.eventKeepAlive = 0.05 }, engine: engine) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            await engine.waitUntilStarted()
            async let events = client.get("/v2/requests/\(id)/events", key: server.key)
            // Once the stream has written its first event and waits, its quiet second holds
            // comments every 50 ms.
            #expect(await yieldUntil { server.components.hub.waiterCount == 1 })
            try await Task.sleep(for: .seconds(3))
            engine.open()
            let text = String(buffer: try await events.body)
            // On a machine running every suite at once the comments' timer can starve for
            // seconds; the events' order below holds regardless.
            withKnownIssue("a starved timer sends no comment in the window", isIntermittent: true) {
                #expect(text.contains("\n: keep-alive\n"))
            }
            #expect(ServerSentEvent.parse(text).map(\.event) == ["processing", "completed"])
        }
    }

    @Test("another key's request has no events: 404")
    func otherKeysStream() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let id = try await client.post("/v2/nano-banana-2", json: Self.body, key: server.key)
                .decoded(SubmitBody.self).requestID
            let other = try await server.components.keys.create(name: "other").secret
            #expect(try await client.get("/v2/requests/\(id)/events", key: other).status == .notFound)
            #expect(try await client.get("/v2/requests/\(id)/status?wait=1", key: other).status == .notFound)
        }
    }
}

/// One event of a `text/event-stream` body.
struct ServerSentEvent: Equatable {
    var event = "message"
    var id: String?
    var data = ""

    /// The events in `text`, as a browser's EventSource reads them (comments and `retry:`
    /// skipped).
    static func parse(_ text: String) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for block in text.components(separatedBy: "\n\n") {
            var event = ServerSentEvent()
            var hasData = false
            for line in block.split(separator: "\n") {
                if line.hasPrefix(":") { continue }
                let parts = line.split(separator: ":", maxSplits: 1)
                let field = String(parts[0])
                let value = parts.count > 1 ? String(parts[1].drop { $0 == " " }) : ""
                switch field {
                case "event": event.event = value
                case "id": event.id = value
                case "data":
                    event.data += (hasData ? "\n" : "") + value
                    hasData = true
                default: break
                }
            }
            if hasData { events.append(event) }
        }
        return events
    }
}
