import Testing

@testable import Engines

/// A body for the limiter that runs until the test lets it end, recording when it runs.
struct HeldBody: Sendable {
    let name: Int
    let log: Locked<[Int]>
    private let stream: AsyncStream<Void>
    private let end: AsyncStream<Void>.Continuation

    init(_ name: Int, log: Locked<[Int]>) {
        self.name = name
        self.log = log
        (stream, end) = AsyncStream<Void>.makeStream()
    }

    func run() async {
        log.withLock { $0.append(name) }
        for await _ in stream {}
    }

    func finish() { end.finish() }
}

@Suite("AsyncLimiter", .timeLimit(.minutes(1)))
struct AsyncLimiterTests {
    @Test("at most `limit` bodies run at once; waiters get freed slots in arrival order")
    func limitAndOrder() async throws {
        let limiter = AsyncLimiter(limit: 2)
        let started = Locked<[Int]>([])
        let bodies = (0..<4).map { HeldBody($0, log: started) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for body in bodies {
                group.addTask { try await limiter.run { await body.run() } }
                // One at a time, so that arrival order is known.
                #expect(await yieldUntil { started.withLock { $0.count } + limiter.waiterCount == body.name + 1 })
            }
            #expect(started.withLock { $0 } == [0, 1])
            #expect(limiter.waiterCount == 2)
            #expect(limiter.inUse == 2)
            bodies[1].finish()
            #expect(await yieldUntil { started.withLock { $0 } == [0, 1, 2] })
            #expect(limiter.waiterCount == 1)
            bodies[0].finish()
            #expect(await yieldUntil { started.withLock { $0 } == [0, 1, 2, 3] })
            #expect(limiter.waiterCount == 0)
            for body in bodies { body.finish() }
            try await group.waitForAll()
        }
        #expect(limiter.inUse == 0)
    }

    @Test("cancelling a waiter throws CancellationError, takes no slot and leaves no waiter")
    func cancelWhileWaiting() async throws {
        let limiter = AsyncLimiter(limit: 1)
        let started = Locked<[Int]>([])
        let holder = HeldBody(0, log: started)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await limiter.run { await holder.run() } }
            #expect(await yieldUntil { started.withLock { $0 } == [0] })
            let outcome = await withTaskGroup(of: (any Error)?.self) { waiting in
                waiting.addTask {
                    do {
                        try await limiter.run { started.withLock { $0.append(1) } }
                        return nil
                    } catch {
                        return error
                    }
                }
                #expect(await yieldUntil { limiter.waiterCount == 1 })
                waiting.cancelAll()
                return await waiting.next() ?? nil
            }
            #expect(outcome is CancellationError)
            #expect(limiter.waiterCount == 0)
            #expect(limiter.inUse == 1)
            holder.finish()
            await group.waitForAll()
        }
        // The slot is free again: the next run starts at once.
        try await limiter.run { started.withLock { $0.append(2) } }
        #expect(started.withLock { $0 } == [0, 2])
    }

    @Test("a task cancelled before it asks throws at once, even with a slot free, and takes none")
    func cancelledBeforehand() async throws {
        let limiter = AsyncLimiter(limit: 1)
        let ran = Locked(false)
        let outcome = await withTaskGroup(of: (any Error)?.self) { group in
            group.cancelAll()
            group.addTask {
                do {
                    try await limiter.run { ran.withLock { $0 = true } }
                    return nil
                } catch {
                    return error
                }
            }
            return await group.next() ?? nil
        }
        #expect(outcome is CancellationError)
        #expect(ran.withLock { $0 } == false)
        #expect(limiter.inUse == 0)
        try await limiter.run { ran.withLock { $0 = true } }
        #expect(ran.withLock { $0 })
    }

    @Test("a body that throws frees its slot")
    func throwingBodyFreesSlot() async throws {
        struct Boom: Error {}
        let limiter = AsyncLimiter(limit: 1)
        await #expect(throws: Boom.self) { try await limiter.run { throw Boom() } }
        #expect(limiter.inUse == 0)
        #expect(try await limiter.run { 42 } == 42)
    }

    @Test("many tasks all finish, never more than `limit` at once")
    func manyWaiters() async throws {
        let limiter = AsyncLimiter(limit: 3)
        let counts = Locked((now: 0, most: 0, done: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    try await limiter.run {
                        counts.withLock {
                            $0.now += 1
                            $0.most = max($0.most, $0.now)
                        }
                        for _ in 0..<3 { await Task.yield() }
                        counts.withLock {
                            $0.now -= 1
                            $0.done += 1
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = counts.withLock { $0 }
        #expect(final.done == 50)
        #expect(final.most <= 3)
        #expect(limiter.waiterCount == 0)
    }
}
