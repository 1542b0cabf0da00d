import AsyncHTTPClient
import Foundation
import NIOCore
import NanoBananaAPI

/// A change of a request, as its event stream tells it.
public enum JobEvent: Sendable, Equatable {
    /// Waiting, at `status.queuePosition` (1 = next).
    case queued(StatusBody)
    case processing(StatusBody)
    case completed(ResultBody)
    case failed(StatusBody)

    /// Whether this is the request's last event.
    public var isFinal: Bool {
        switch self {
        case .completed, .failed: true
        case .queued, .processing: false
        }
    }
}

extension AsyncJob {
    /// `…/v2/requests/{id}/events`, next to the status URL.
    var eventsURL: String {
        statusURL.hasSuffix("/status") ? String(statusURL.dropLast("/status".count)) + "/events" : statusURL + "/events"
    }

    /// The request's changes as they happen (`GET /v2/requests/{id}/events`): its queue
    /// position as it moves, its start, then its result or failure, after which the
    /// sequence ends. A dropped connection is resumed where it left off (`Last-Event-ID`),
    /// a few times. Throws ``APIError`` when the server answers with an error, e.g. 404 for
    /// an unknown request or a server without event streams.
    public func events() -> AsyncThrowingStream<JobEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    try await streamEvents { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Reads the stream, reconnecting after a dropped connection, until the final event.
    func streamEvents(_ deliver: (JobEvent) -> Void) async throws {
        var lastEventID: String?
        var reconnects = 0
        while true {
            var request = HTTPClientRequest(url: eventsURL)
            request.headers.add(name: "x-api-key", value: client.apiKey)
            request.headers.add(name: "accept", value: "text/event-stream")
            request.headers.add(name: "user-agent", value: "nano-banana-swift")
            if let lastEventID { request.headers.add(name: "last-event-id", value: lastEventID) }
            let response = try await client.http.execute(request, deadline: .distantFuture)
            guard response.status.code == 200 else {
                let body = Array(try await response.body.collect(upTo: 1024 * 1024).readableBytesView)
                throw APIError(
                    status: Int(response.status.code),
                    detail: (try? JSONDecoder().decode(ErrorBody.self, from: Data(body)))?.error,
                    retryAfter: response.headers.first(name: "retry-after").flatMap(Double.init))
            }
            var reader = ServerSentEventReader()
            do {
                for try await buffer in response.body {
                    for raw in reader.feed(buffer.readableBytesView) {
                        if let id = raw.id { lastEventID = id }
                        guard let event = try Self.decode(raw) else { continue }
                        deliver(event)
                        if event.isFinal { return }
                    }
                }
            } catch  where !(error is CancellationError) && !Task.isCancelled && reconnects < 5 {
                // The connection dropped mid-stream: resume below.
            }
            // The stream ended before its final event (the server shut down, or the
            // connection dropped): resume from the last event seen.
            try Task.checkCancellation()
            reconnects += 1
            guard reconnects <= 5 else {
                throw APIError(status: 0, detail: "The event stream kept ending early.", retryAfter: nil)
            }
            try await Task.sleep(for: .milliseconds(200 * reconnects))
        }
    }

    static func decode(_ raw: ServerSentEventReader.Event) throws -> JobEvent? {
        let data = Data(raw.data.utf8)
        switch raw.name {
        case "queued": return .queued(try JSONDecoder().decode(StatusBody.self, from: data))
        case "processing": return .processing(try JSONDecoder().decode(StatusBody.self, from: data))
        case "completed": return .completed(try JSONDecoder().decode(ResultBody.self, from: data))
        case "failed": return .failed(try JSONDecoder().decode(StatusBody.self, from: data))
        default: return nil
        }
    }
}
