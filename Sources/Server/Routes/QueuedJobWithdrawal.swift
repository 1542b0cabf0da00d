import Logging
import Store
import Synchronization

/// Withdraws a v1 request's job when its client disconnects while the job is still
/// QUEUED: a v1 client learns the request id only with the result, so nobody could ever
/// fetch it, and it is neither run nor charged. Armed while the route waits; once
/// ``disarm()``ed (the route answers), a departure changes nothing. A job a worker already
/// runs finishes and is charged as usual.
final class QueuedJobWithdrawal: Sendable {
    private let armed = Mutex(true)
    let jobID: String
    let jobs: any JobStore
    let hub: CompletionHub
    /// The request's logger, about the job.
    let logger: Logger
    /// Runs once the job is withdrawn (the metrics count it).
    let onWithdrawn: @Sendable () -> Void

    init(
        jobID: String, jobs: any JobStore, hub: CompletionHub, logger: Logger,
        onWithdrawn: @escaping @Sendable () -> Void = {}
    ) {
        self.jobID = jobID
        self.jobs = jobs
        self.hub = hub
        self.logger = logger
        self.onWithdrawn = onWithdrawn
    }

    /// The client closed its side of the connection.
    func clientLeft() {
        guard armed.withLock({ $0 }) else { return }
        Task { [jobID, jobs, hub, logger, onWithdrawn] in
            // The waiting route wakes and answers a connection nobody reads.
            if (try? await jobs.cancelQueued(jobID: jobID, error: JobState.clientGoneError)) == true {
                logger.log(
                    .cancelled,
                    ["failure_code": "\(FailureCode.cancelled.rawValue)", "error": "\(JobState.clientGoneError)"])
                hub.finish(jobID)
                onWithdrawn()
            }
        }
    }

    func disarm() {
        armed.withLock { $0 = false }
    }
}
