import Testing

@testable import Store

@Suite("DeadlineRace: one outcome per operation")
struct DeadlineRaceTests {
    struct Late: Error, Equatable {}

    /// Runs `drive` against a race whose caller waits in a task, and returns what the caller got.
    func outcome(
        cancelCaller: Bool = false, _ drive: @escaping @Sendable (DeadlineRace<Int>) async -> Void
    ) async -> Result<Int, any Error> {
        let race = DeadlineRace<Int>()
        let caller = Task {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { race.start($0) }
            } onCancel: {
                race.cancel()
            }
        }
        // Bounded: the caller task hands its continuation over within a few turns.
        for _ in 0..<100_000 where !race.hasCaller { await Task.yield() }
        #expect(race.hasCaller)
        if cancelCaller { caller.cancel() }
        await drive(race)
        return await caller.result
    }

    @Test("the result reaches the caller when the operation finishes first")
    func resultFirst() async throws {
        let result = await outcome { race in
            #expect(race.begin())
            race.finish(.success(7))
            #expect(!race.abandon(Late()))
            race.finish(.success(8))
        }
        #expect(try result.get() == 7)
    }

    @Test("the deadline fails a waiting operation, which then never begins")
    func deadlineFirst() async {
        let result = await outcome { race in
            #expect(race.abandon(Late()))
            #expect(!race.begin())
            race.finish(.success(1))
        }
        #expect(throws: Late.self) { try result.get() }
    }

    @Test("a running operation is abandoned only by the running deadline")
    func runningDeadline() async {
        let result = await outcome { race in
            #expect(race.begin())
            #expect(!race.abandon(Late()))
            #expect(race.abandon(Late(), running: true))
            race.finish(.success(1))
        }
        #expect(throws: Late.self) { try result.get() }
    }

    @Test("the caller's cancellation ends the race at once and cancels the work")
    func callerCancelled() async {
        let work = Task<Void, Never> { while !Task.isCancelled { await Task.yield() } }
        let result = await outcome(cancelCaller: true) { race in
            race.setWork(work)
            // cancel() ran from the caller's handler: nothing may begin any more.
            for _ in 0..<1000 where race.phase != .abandoned { await Task.yield() }
            #expect(!race.begin())
            race.finish(.success(1))
        }
        #expect(throws: CancellationError.self) { try result.get() }
        await work.value
        #expect(work.isCancelled)
    }

    @Test("a caller cancelled before it starts waiting is answered at once")
    func cancelledBeforeStart() async {
        let race = DeadlineRace<Int>()
        race.cancel()
        let result = await Task {
            try await withCheckedThrowingContinuation { race.start($0) }
        }.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(!race.begin())
    }
}
