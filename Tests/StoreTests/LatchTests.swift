import Testing

@testable import Store

@Suite("Latch: a one-shot signal")
struct LatchTests {
    struct Broken: Error, Equatable {}

    /// Starts `count` waiters and returns once every one of them waits (bounded).
    func waiters(_ latch: Latch, count: Int) async -> [Task<Void, any Error>] {
        let tasks = (0..<count).map { _ in Task { try await latch.wait() } }
        for _ in 0..<100_000 where latch.waiting < count { await Task.yield() }
        #expect(latch.waiting == count)
        return tasks
    }

    @Test("every waiter is resumed once when it opens, and later waits return at once")
    func opens() async throws {
        let latch = Latch()
        let tasks = await waiters(latch, count: 5)
        latch.open()
        latch.open()
        latch.fail(Broken())
        for task in tasks { try await task.value }
        try await latch.wait()
        #expect(latch.isOpen)
    }

    @Test("a failure reaches every waiter, now and later")
    func fails() async {
        let latch = Latch()
        let tasks = await waiters(latch, count: 3)
        latch.fail(Broken())
        latch.open()
        for task in tasks { await #expect(throws: Broken.self) { try await task.value } }
        await #expect(throws: Broken.self) { try await latch.wait() }
        #expect(!latch.isOpen)
    }

    @Test("a cancelled waiter leaves with CancellationError; the others keep waiting")
    func cancellation() async throws {
        let latch = Latch()
        let tasks = await waiters(latch, count: 2)
        tasks[0].cancel()
        await #expect(throws: CancellationError.self) { try await tasks[0].value }
        #expect(latch.waiting == 1)
        latch.open()
        try await tasks[1].value
    }

    @Test("a task cancelled before it waits does not wait")
    func cancelledBefore() async {
        let latch = Latch()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await latch.wait()
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(latch.waiting == 0)
    }
}
