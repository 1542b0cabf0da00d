import Testing

@testable import Server

/// Runs `body` in a child task that is cancelled before it starts (a child added to a
/// cancelled group starts cancelled) and returns its result.
func inCancelledTask<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await withTaskGroup(of: T.self) { group in
        group.cancelAll()
        group.addTask { await body() }
        return await group.next()!
    }
}

@Suite("WorkSignal", .timeLimit(.minutes(1)))
struct WorkSignalTests {
    @Test("a signal that came after the noted generation makes the wait return at once")
    func signalBeforeWait() async {
        let signal = WorkSignal()
        let generation = signal.generation
        signal.signal()
        #expect(signal.generation != generation)
        await signal.wait(after: generation)
        #expect(signal.waiterCount == 0)
    }

    @Test("a signal wakes exactly one waiter, the one that waited longest")
    func signalWakesOne() async {
        let signal = WorkSignal()
        let woken = Locked<[Int]>([])
        await withTaskGroup(of: Void.self) { group in
            for name in 0..<2 {
                let generation = signal.generation
                group.addTask {
                    await signal.wait(after: generation)
                    woken.withLock { $0.append(name) }
                }
                #expect(await yieldUntil { signal.waiterCount == name + 1 })
            }
            signal.signal()
            #expect(await yieldUntil { woken.withLock { $0 } == [0] })
            #expect(signal.waiterCount == 1)
            signal.signal()
            await group.waitForAll()
        }
        #expect(woken.withLock { $0 } == [0, 1])
    }

    @Test("wakeAll wakes every waiter; stop also makes later waits return at once")
    func wakeAllAndStop() async {
        let signal = WorkSignal()
        await withTaskGroup(of: Void.self) { group in
            let generation = signal.generation
            for _ in 0..<5 { group.addTask { await signal.wait(after: generation) } }
            #expect(await yieldUntil { signal.waiterCount == 5 })
            signal.wakeAll()
            await group.waitForAll()
        }
        #expect(!signal.isStopped)
        await withTaskGroup(of: Void.self) { group in
            let generation = signal.generation
            for _ in 0..<3 { group.addTask { await signal.wait(after: generation) } }
            #expect(await yieldUntil { signal.waiterCount == 3 })
            signal.stop()
            await group.waitForAll()
        }
        #expect(signal.isStopped)
        await signal.wait(after: signal.generation)
        #expect(signal.waiterCount == 0)
    }

    @Test("draining: no claims; signals wake nobody; only stop ends a wait; the first deadline stays")
    func drain() async {
        let signal = WorkSignal()
        #expect(signal.claimsAllowed && signal.drainDeadline == nil)
        let deadline = ContinuousClock.now + .seconds(10)
        signal.beginDrain(until: deadline)
        signal.beginDrain(until: deadline + .seconds(60))
        #expect(!signal.claimsAllowed && signal.drainDeadline == deadline)
        let woken = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            let generation = signal.generation
            for _ in 0..<2 {
                group.addTask {
                    await signal.wait(after: generation)
                    woken.withLock { $0 += 1 }
                }
            }
            #expect(await yieldUntil { signal.waiterCount == 2 })
            signal.signal()
            signal.wakeAll()
            // A signal while draining changes the generation but wakes nobody.
            #expect(signal.waiterCount == 2 && woken.withLock { $0 } == 0)
            signal.stop()
            await group.waitForAll()
        }
        #expect(woken.withLock { $0 } == 2 && !signal.claimsAllowed)
    }

    @Test("cancellation ends a wait, before or while waiting, and leaves no waiter")
    func cancellation() async {
        let signal = WorkSignal()
        await withTaskGroup(of: Void.self) { group in
            let generation = signal.generation
            group.addTask { await signal.wait(after: generation) }
            #expect(await yieldUntil { signal.waiterCount == 1 })
            group.cancelAll()
            await group.waitForAll()
        }
        #expect(signal.waiterCount == 0)
        let generation = signal.generation
        await inCancelledTask { await signal.wait(after: generation) }
        #expect(signal.waiterCount == 0)
        #expect(signal.generation == generation)
    }
}

@Suite("CompletionHub", .timeLimit(.minutes(1)))
struct CompletionHubTests {
    @Test("a job finished before the wait is seen at once, with its image")
    func finishedBeforeWait() async {
        let hub = CompletionHub()
        hub.expect("a")
        hub.finish("a", image: [1, 2, 3])
        #expect(await hub.wait(for: "a", timeout: .seconds(3600)))
        #expect(hub.image(of: "a") == [1, 2, 3])
        // A later finish without an image (a cluster announcement) keeps it.
        hub.finish("a")
        #expect(hub.image(of: "a") == [1, 2, 3])
        hub.forget("a")
        #expect(hub.image(of: "a") == nil)
    }

    @Test("finish wakes every waiter of that job with true, and no other job's")
    func finishWakesItsWaiters() async {
        let hub = CompletionHub()
        hub.expect("a")
        hub.expect("b")
        let results = Locked<[String: [Bool]]>([:])
        await withTaskGroup(of: Void.self) { group in
            for job in ["a", "a", "a", "b"] {
                group.addTask {
                    let finished = await hub.wait(for: job, timeout: .seconds(3600))
                    results.withLock { $0[job, default: []].append(finished) }
                }
            }
            #expect(await yieldUntil { hub.waiterCount == 4 })
            hub.finish("a")
            #expect(await yieldUntil { results.withLock { $0["a"] } == [true, true, true] })
            #expect(hub.waiterCount == 1)
            hub.forget("b")
            await group.waitForAll()
        }
        #expect(results.withLock { $0["b"] } == [false])
    }

    @Test("a job two requests expect is tracked until both forget it (a replayed v1 request waits too)")
    func sharedInterest() async {
        let hub = CompletionHub()
        hub.expect("a")
        hub.expect("a")
        hub.finish("a", image: [7])
        hub.forget("a")
        #expect(await hub.wait(for: "a", timeout: .seconds(3600)))
        #expect(hub.image(of: "a") == [7])
        hub.forget("a")
        #expect(hub.image(of: "a") == nil)
        #expect(await hub.wait(for: "a", timeout: .seconds(3600)) == false)
    }

    @Test("waiting for a job never expected returns false at once")
    func unexpectedJob() async {
        let hub = CompletionHub()
        #expect(await hub.wait(for: "nobody", timeout: .seconds(3600)) == false)
        hub.finish("nobody")
        #expect(await hub.wait(for: "nobody", timeout: .seconds(3600)) == false)
    }

    @Test("cancellation ends a wait with false and leaves no waiter; a finished job still reads true")
    func cancellation() async {
        let hub = CompletionHub()
        hub.expect("a")
        let outcome = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await hub.wait(for: "a", timeout: .seconds(3600)) }
            #expect(await yieldUntil { hub.waiterCount == 1 })
            group.cancelAll()
            return await group.next()!
        }
        #expect(outcome == false)
        #expect(hub.waiterCount == 0)
        #expect(await inCancelledTask { await hub.wait(for: "a", timeout: .seconds(3600)) } == false)
        hub.finish("a")
        #expect(await inCancelledTask { await hub.wait(for: "a", timeout: .seconds(3600)) } == true)
    }

    @Test("waiters past their deadline get false; the others keep waiting")
    func deadlines() async {
        let hub = CompletionHub()
        hub.expect("a")
        let results = Locked<[Duration: Bool]>([:])
        await withTaskGroup(of: Void.self) { group in
            for timeout in [Duration.seconds(1), .seconds(3600)] {
                group.addTask {
                    let finished = await hub.wait(for: "a", timeout: timeout)
                    results.withLock { $0[timeout] = finished }
                }
            }
            #expect(await yieldUntil { hub.waiterCount == 2 })
            hub.expireWaiters(now: .now + .seconds(60))
            #expect(await yieldUntil { results.withLock { $0[.seconds(1)] } == false })
            #expect(hub.waiterCount == 1)
            hub.finish("a")
            await group.waitForAll()
        }
        #expect(results.withLock { $0[.seconds(3600)] } == true)
    }

    @Test("a drain wakes every waiter with false and caps later waits at its deadline")
    func drain() async {
        let hub = CompletionHub()
        hub.expect("a")
        hub.expect("b")
        await withTaskGroup(of: Bool.self) { group in
            for id in ["a", "b"] { group.addTask { await hub.wait(for: id, timeout: .seconds(3600)) } }
            #expect(await yieldUntil { hub.waiterCount == 2 })
            hub.beginDrain(until: .now + .seconds(3600))
            for await finished in group { #expect(!finished) }
        }
        #expect(hub.waiterCount == 0 && hub.drainDeadline != nil)
        // A wait begun while draining lasts until the drain deadline at most: here, past.
        let past = CompletionHub()
        past.expect("c")
        past.beginDrain(until: .now - .seconds(1))
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await past.wait(for: "c", timeout: .seconds(3600)) }
            #expect(await yieldUntil { past.waiterCount == 1 })
            past.expireWaiters()
            #expect(await group.next() == false)
        }
        // A finish during the drain still reads true.
        hub.finish("b")
        #expect(await hub.wait(for: "b", timeout: .seconds(3600)))
    }

    @Test("the deadline ticker stops when its task is cancelled")
    func tickerStops() async {
        let hub = CompletionHub(tick: .seconds(3600))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await hub.run() }
            group.cancelAll()
            await group.waitForAll()
        }
    }
}

@Suite("RunningJobs", .timeLimit(.minutes(1)))
struct RunningJobsTests {
    @Test("the keeper stops each job once: past its deadline, or on a lost lease, whichever is first")
    func stops() {
        let running = RunningJobs()
        let stopped = Locked<[String]>([])
        let now = ContinuousClock.now
        for (job, seconds) in [("early", 1), ("late", 100), ("lost", 1)] {
            running.insert(jobID: job, worker: "w", deadline: now + .seconds(seconds)) {
                stopped.withLock { $0.append(job) }
            }
        }
        running.loseLease(jobID: "lost")
        running.stopOverdue(now: now + .seconds(2))
        running.stopOverdue(now: now + .seconds(3))
        running.loseLease(jobID: "early")
        #expect(stopped.withLock { $0 } == ["lost", "early"])
        #expect(running.stopReason(jobID: "early") == .deadline)
        #expect(running.stopReason(jobID: "lost") == .leaseLost)
        #expect(running.stopReason(jobID: "late") == nil)
        running.remove(jobID: "early")
        #expect(running.stopReason(jobID: "early") == nil)
    }

    @Test("holders are the running jobs whose lease is held; a lost lease leaves them")
    func holders() {
        let running = RunningJobs()
        running.insert(jobID: "a", worker: "w1")
        running.insert(jobID: "b", worker: "w2")
        #expect(Set(running.holders.map { "\($0.jobID)@\($0.worker)" }) == ["a@w1", "b@w2"])
        running.loseLease(jobID: "a")
        #expect(running.holders.map(\.jobID) == ["b"])
        running.remove(jobID: "b")
        #expect(running.holders.isEmpty)
        running.loseLease(jobID: "gone")
        #expect(running.holders.isEmpty)
    }

    @Test("a lost lease wakes every waiter of that job with true; removal wakes the others with false")
    func loseLeaseWakes() async {
        let running = RunningJobs()
        running.insert(jobID: "a", worker: "w")
        running.insert(jobID: "b", worker: "w")
        let results = Locked<[String: [Bool]]>([:])
        await withTaskGroup(of: Void.self) { group in
            for job in ["a", "a", "b"] {
                group.addTask {
                    let lost = await running.waitUntilLeaseLost(jobID: job)
                    results.withLock { $0[job, default: []].append(lost) }
                }
            }
            #expect(await yieldUntil { running.waiterCount == 3 })
            running.loseLease(jobID: "a")
            #expect(await yieldUntil { results.withLock { $0["a"] } == [true, true] })
            #expect(running.waiterCount == 1)
            running.remove(jobID: "b")
            await group.waitForAll()
        }
        #expect(results.withLock { $0["b"] } == [false])
        // Already lost: true at once; untracked: false at once.
        #expect(await running.waitUntilLeaseLost(jobID: "a"))
        #expect(await running.waitUntilLeaseLost(jobID: "b") == false)
    }

    @Test("cancellation ends the wait with false, before or while waiting, and leaves no waiter")
    func cancellation() async {
        let running = RunningJobs()
        running.insert(jobID: "a", worker: "w")
        let outcome = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await running.waitUntilLeaseLost(jobID: "a") }
            #expect(await yieldUntil { running.waiterCount == 1 })
            group.cancelAll()
            return await group.next()!
        }
        #expect(outcome == false)
        #expect(running.waiterCount == 0)
        #expect(await inCancelledTask { await running.waitUntilLeaseLost(jobID: "a") } == false)
        #expect(running.holders.map(\.jobID) == ["a"])
    }
}
