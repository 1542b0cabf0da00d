import Store

/// Waits for a job that the caller has ``CompletionHub/expect(_:)``ed to finish. On a
/// single node the hub hears of every finish. In a cluster it hears of other nodes'
/// finishes through the store's announcements, which can be lost while the listener
/// reconnects, so the waiter also reads the job now and then (`recheckEvery`).
struct CompletionWaiter: Sendable {
    let hub: CompletionHub
    let jobs: any JobReader
    let recheckEvery: Duration?

    /// Returns once the job is finished or `timeout` has passed.
    func wait(for jobID: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !Task.isCancelled {
            let left = deadline - .now
            guard left > .zero else { return }
            if await hub.wait(for: jobID, timeout: min(left, recheckEvery ?? left)) { return }
            guard recheckEvery != nil else { continue }
            if let job = try await jobs.job(id: jobID), job.status.isTerminal { return }
        }
    }
}
