import Foundation
import HTTPTypes
import NanoBananaAPI
import Testing

@testable import Engines

@Suite("Gemini engine under cancellation", .timeLimit(.minutes(1)))
struct GeminiCancellationTests {
    let request = GenerationRequest(
        requestID: "r", model: "nano-banana-2", parameters: NanoBanana2Parameters(prompt: "x"))

    @Test("cancelling a call in flight throws CancellationError, not an engine failure, and tries no more")
    func cancelInFlight() async throws {
        var hanging = FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg")
        hanging.hangs = true
        let fake = FakeGemini([hanging, hanging])
        try await fake.run(maxAttempts: 2) { engine in
            defer { fake.releaseHanging() }
            let outcome = await withTaskGroup(of: (any Error)?.self) { group in
                group.addTask {
                    do {
                        _ = try await engine.generate(request)
                        return nil
                    } catch {
                        return error
                    }
                }
                await fake.waitForRequests(1)
                group.cancelAll()
                return await group.next() ?? nil
            }
            #expect(outcome is CancellationError, "got \(String(describing: outcome))")
        }
        #expect(fake.requests.count == 1)
    }

    @Test("cancelling during the retry backoff throws CancellationError and tries no more")
    func cancelInBackoff() async throws {
        // Retry-After asks for 100 s: only cancellation can end the wait within the time limit.
        let fake = FakeGemini(
            Array(
                repeating: FakeGemini.errorReply(.serviceUnavailable, message: "busy", headers: [.retryAfter: "100"]),
                count: 3))
        try await fake.run(maxAttempts: 3) { engine in
            let outcome = await withTaskGroup(of: (any Error)?.self) { group in
                group.addTask {
                    do {
                        _ = try await engine.generate(request)
                        return nil
                    } catch {
                        return error
                    }
                }
                await fake.waitForRequests(1)
                // The call held a slot of the engine's limiter; once it is free again the
                // answer is in and the engine is in its backoff.
                #expect(await yieldUntil(1_000_000) { engine.limiter.inUse == 0 })
                group.cancelAll()
                return await group.next() ?? nil
            }
            #expect(outcome is CancellationError, "got \(String(describing: outcome))")
        }
        #expect(fake.requests.count == 1)
    }

    @Test("a task cancelled before it starts makes no upstream call")
    func cancelledBeforehand() async throws {
        let fake = FakeGemini([FakeGemini.imageReply(try sampleJPEG(), mimeType: "image/jpeg")])
        try await fake.run { engine in
            let outcome = await withTaskGroup(of: (any Error)?.self) { group in
                // A child added to a cancelled group starts cancelled.
                group.cancelAll()
                group.addTask {
                    do {
                        _ = try await engine.generate(request)
                        return nil
                    } catch {
                        return error
                    }
                }
                return await group.next() ?? nil
            }
            #expect(outcome is CancellationError, "got \(String(describing: outcome))")
        }
        #expect(fake.requests.isEmpty)
    }
}
