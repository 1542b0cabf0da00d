import Foundation
import NanoBananaAPI
import NanoBananaClient
import Synchronization
import Testing

@Suite("Swift SDK: the event stream and exact timeouts")
struct LiveStatusClientTests {
    let small = NanoBanana2Parameters(prompt: "a 'live' sign", outputResolution: .px512)

    @Test("events() tells the queue position, the start and the result, then ends")
    func events() async throws {
        try await withLiveServer(
            configure: {
                $0.workers = 1
                $0.previewLatency = 0.5
            }
        ) { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            let first = try await client.submitAsync(small)
            let second = try await client.submitAsync(small)
            var seen: [JobEvent] = []
            for try await event in second.events() { seen.append(event) }
            guard case .completed(let result) = seen.last else {
                Issue.record("the last event is not completed: \(seen)")
                return
            }
            #expect(result.requestID == second.requestID)
            #expect(seen.filter(\.isFinal).count == 1)
            #expect(seen.dropLast().allSatisfy { if case .completed = $0 { false } else { true } })
            _ = try await first.wait(timeout: .seconds(300))
        }
    }

    @Test("wait follows the stream and hears each state before the result")
    func waitWithProgress() async throws {
        try await withLiveServer(
            configure: {
                $0.workers = 1
                $0.previewLatency = 0.5
            }
        ) { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            _ = try await client.submitAsync(small)
            let job = try await client.submitAsync(small)
            let heard = Mutex<[JobStatus]>([])
            let result = try await job.wait(timeout: .seconds(300)) { status in
                heard.withLock { $0.append(status.status) }
            }
            #expect(result.body.requestID == job.requestID)
            // What it hears depends on how soon the first job ends: only unfinished states.
            #expect(heard.withLock { $0.allSatisfy { $0 == .queued || $0 == .processing } })
            #expect(try await result.image().count > 100)
        }
    }

    @Test("a timeout ends the wait at once, not at the next poll")
    func exactTimeout() async throws {
        try await withLiveServer(configure: { $0.previewLatency = 5 }) { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            let job = try await client.submitAsync(small)
            do {
                _ = try await job.wait(timeout: .milliseconds(50))
                Issue.record("must time out")
            } catch let timeout as InferenceTimeout {
                // How soon after 50 ms it ends is measured where nothing else shares the
                // process (the CLI suite's `run --timeout 0.05`): here every suite runs at
                // once on two cores, and a timer's wake-up can wait for the pool.
                #expect(timeout.elapsed >= 0.05)
                #expect(timeout.requestID == job.requestID)
            }
        }
    }

    @Test("a failed request's stream ends the wait with InferenceFailed")
    func failure() async throws {
        try await withLiveServer { base, _, key in
            let client = try Client(apiKey: key, baseURL: base)
            let job = try await client.submitAsync(
                NanoBanana2Parameters(prompt: "something forbidden", outputResolution: .px512))
            await #expect(throws: InferenceFailed.self) { _ = try await job.wait(timeout: .seconds(300)) }
        }
    }
}
