import Store

/// Waits for a job that the caller has ``CompletionHub/expect(_:)``ed to finish. The hub
/// hears of every finish of this node's workers. In a cluster it hears of other nodes'
/// finishes through the store's announcements, which can be lost while the listener
/// reconnects; and on any store another process (`nano-banana keys revoke`) can cancel a
/// queued job without telling the hub. So the waiter also reads the job now and then
/// (`recheckEvery`).
///
/// While the node shuts down (``CompletionHub/beginDrain(until:)``) a wait ends early: at
/// once for a job still QUEUED, which this node will not start, and at the drain deadline
/// for one still running.
struct CompletionWaiter: Sendable {
    enum Outcome: Sendable, Equatable {
        /// The job is COMPLETED or FAILED, or the wait was cancelled: read it.
        case finished
        /// `timeout` passed first.
        case timedOut
        /// The node is shutting down before the job finished.
        case shuttingDown
    }

    let hub: CompletionHub
    let jobs: any JobReader
    let recheckEvery: Duration

    /// Returns once the job is finished, `timeout` has passed, or the node is shutting down.
    func wait(for jobID: String, timeout: Duration) async throws -> Outcome {
        let deadline = ContinuousClock.now + timeout
        while !Task.isCancelled {
            if let drainDeadline = hub.drainDeadline {
                guard let job = try await jobs.job(id: jobID), !job.status.isTerminal else { return .finished }
                if job.status == .queued || drainDeadline <= .now { return .shuttingDown }
            }
            let left = deadline - .now
            guard left > .zero else { return .timedOut }
            if await hub.wait(for: jobID, timeout: min(left, recheckEvery)) { return .finished }
            if let job = try await jobs.job(id: jobID), job.status.isTerminal { return .finished }
        }
        return .finished
    }
}
