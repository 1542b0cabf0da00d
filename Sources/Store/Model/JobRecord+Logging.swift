import Logging

/// What a log line about a job reports: one of its transitions, the line's `job_event`
/// field. The adapters that make a transition log it (the submitter, the worker, the
/// stores for what they decide on their own), never the rules.
public enum JobLogEvent: String, Sendable, CaseIterable {
    /// Accepted and stored QUEUED.
    case queued
    /// Claimed by a worker, which runs it now (one attempt).
    case started
    case completed
    /// FAILED, with its `failure_code`.
    case failed
    /// Handed back to the queue unfinished by a worker that is shutting down.
    case released
    /// Its worker could not renew the lease: another worker may run it now.
    case leaseLost = "lease_lost"
    /// Its worker stopped renewing the lease (presumed dead): back in the queue.
    case leaseExpired = "lease_expired"
    /// Withdrawn before it ran (its client left, its key was revoked or disabled).
    case cancelled

    /// The line's message.
    public var message: Logger.Message {
        switch self {
        case .queued: "Job queued"
        case .started: "Job started"
        case .completed: "Job completed"
        case .failed: "Job failed"
        case .released: "Job handed back to the queue"
        case .leaseLost: "Job lease lost; leaving the job to its next worker"
        case .leaseExpired: "Job lease expired; the job is queued again"
        case .cancelled: "Job cancelled"
        }
    }
}

extension JobRecord {
    /// The fields every line about the job carries: `job_id` (the API's request id),
    /// `key_id`, `model` and, when known, the submitting HTTP request's `request_id`.
    public var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["job_id": "\(id)", "key_id": "\(keyID)", "model": "\(model)"]
        if let httpRequestID { metadata["request_id"] = "\(httpRequestID)" }
        return metadata
    }

    /// The fields of its failure: the `failure_code` and, when it describes the server's
    /// trouble rather than the request's content, the `error` sentence the client sees.
    public var failureLogMetadata: Logger.Metadata {
        guard let code = state.failureCode else { return [:] }
        var metadata: Logger.Metadata = ["failure_code": "\(code.rawValue)"]
        if code.describesServer, let error = state.error { metadata["error"] = "\(error)" }
        return metadata
    }
}

extension FailureCode {
    /// Whether the failure is the server's or its upstream's (its sentence is then worth
    /// logging) rather than about what the request asked for (which stays out of logs).
    public var describesServer: Bool {
        switch self {
        case .contentBlocked, .invalidRequest: false
        case .upstreamUnavailable, .upstreamError, .timedOut, .workerLost, .cancelled, .internal: true
        }
    }
}

extension Logger {
    /// A logger that drops every line: the stores' default when nobody gives them one.
    public static let discarding = Logger(label: "nano-banana.discarded") { _ in SwiftLogNoOpLogHandler() }

    /// This logger with the job's fields (``JobRecord/logMetadata``) on every line.
    public func about(_ job: JobRecord) -> Logger {
        var logger = self
        for (key, value) in job.logMetadata { logger[metadataKey: key] = value }
        return logger
    }

    /// One line for a transition of the job this logger is ``about(_:)``.
    public func log(_ event: JobLogEvent, level: Logger.Level = .info, _ metadata: Logger.Metadata = [:]) {
        var metadata = metadata
        metadata["job_event"] = "\(event.rawValue)"
        log(level: level, event.message, metadata: metadata)
    }

    /// One line for each change a store made to jobs on its own (an expired lease, a
    /// withdrawal), once committed: each job as the change left it.
    func logStoreChanges(_ jobs: [JobRecord]) {
        for job in jobs {
            let event: JobLogEvent =
                switch (job.status, job.state.failureCode) {
                case (.failed, .cancelled?): .cancelled
                case (.failed, _): .failed
                default: .leaseExpired
                }
            var metadata = job.failureLogMetadata
            metadata["attempt"] = .stringConvertible(job.state.attempts)
            about(job).log(event, level: event == .cancelled ? .info : .warning, metadata)
        }
    }
}
