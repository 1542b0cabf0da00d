import Foundation
import NanoBananaAPI

/// The lifecycle of one job as a value-type state machine: events in, a new state or a
/// refusal out. The stores load a job's state, apply an event and write the result in one
/// transaction, so every store obeys the same rules.
public struct JobState: Sendable, Equatable {
    public var status: JobStatus
    /// How many times a worker has claimed the job.
    public var attempts: Int
    /// Claims allowed before a job whose workers keep dying is failed.
    public var maxAttempts: Int
    public var workerID: String?
    public var leaseExpiresAt: Date?
    public var error: String?
    /// What kind of failure `error` describes; decides the v1 route's HTTP status.
    public var failureCode: FailureCode?

    public init(
        status: JobStatus = .queued, attempts: Int = 0, maxAttempts: Int, workerID: String? = nil,
        leaseExpiresAt: Date? = nil, error: String? = nil
    ) {
        self.status = status
        self.attempts = attempts
        self.maxAttempts = maxAttempts
        self.workerID = workerID
        self.leaseExpiresAt = leaseExpiresAt
        self.error = error
    }

    public enum Event: Sendable, Equatable {
        /// A worker takes the job until `leaseUntil`.
        case claim(worker: String, leaseUntil: Date)
        /// The worker holding the job extends its lease.
        case renew(worker: String, leaseUntil: Date)
        /// The worker holding the job finished it.
        case complete(worker: String)
        /// The worker holding the job gives up on it for good.
        case fail(worker: String, error: String, code: FailureCode)
        /// The worker holding the job hands it back unfinished (graceful shutdown): no
        /// attempt is counted against it.
        case release(worker: String)
        /// The lease ran out at `now`: the worker is presumed dead.
        case leaseExpired(now: Date)
        /// The job is withdrawn before any worker took it (its key was revoked or
        /// disabled): FAILED with `error`, never run.
        case cancel(error: String)
    }

    public enum Refusal: Error, Sendable, Equatable {
        /// The event does not apply in the current status.
        case invalidTransition(from: JobStatus)
        /// Another worker holds the job (or nobody does).
        case notLeaseHolder
        /// The lease has not run out yet.
        case leaseStillValid
    }

    /// The message a job gets when its workers died too often.
    public static func workerLostError(attempts: Int) -> String {
        "The job was abandoned: its worker stopped responding \(attempts) times."
    }

    /// The message of a QUEUED job whose key was revoked or disabled.
    public static func cancelledError(keyRevoked: Bool) -> String {
        "cancelled: the API key was \(keyRevoked ? "revoked" : "disabled")"
    }

    /// The message of a QUEUED job whose v1 client disconnected before it started.
    public static let clientGoneError = "cancelled: the client disconnected before the job started"

    /// Applies `event`, or explains why it does not apply (the state is then unchanged).
    public mutating func apply(_ event: Event) throws(Refusal) {
        switch event {
        case .claim(let worker, let leaseUntil):
            guard status == .queued else { throw .invalidTransition(from: status) }
            status = .processing
            attempts += 1
            workerID = worker
            leaseExpiresAt = leaseUntil
        case .renew(let worker, let leaseUntil):
            try requireHolder(worker)
            leaseExpiresAt = leaseUntil
        case .complete(let worker):
            try requireHolder(worker)
            status = .completed
            workerID = nil
            leaseExpiresAt = nil
        case .fail(let worker, let message, let code):
            try requireHolder(worker)
            status = .failed
            error = message
            failureCode = code
            workerID = nil
            leaseExpiresAt = nil
        case .release(let worker):
            try requireHolder(worker)
            status = .queued
            attempts = max(0, attempts - 1)
            workerID = nil
            leaseExpiresAt = nil
        case .leaseExpired(let now):
            guard status == .processing else { throw .invalidTransition(from: status) }
            guard let lease = leaseExpiresAt, lease <= now else { throw .leaseStillValid }
            workerID = nil
            leaseExpiresAt = nil
            if attempts >= maxAttempts {
                status = .failed
                error = Self.workerLostError(attempts: attempts)
                failureCode = .workerLost
            } else {
                status = .queued
            }
        case .cancel(let message):
            guard status == .queued else { throw .invalidTransition(from: status) }
            status = .failed
            error = message
            failureCode = .cancelled
        }
    }

    private func requireHolder(_ worker: String) throws(Refusal) {
        guard status == .processing else { throw .invalidTransition(from: status) }
        guard workerID == worker else { throw .notLeaseHolder }
    }
}

/// The kinds of failure, stored with a FAILED job.
public enum FailureCode: String, Sendable, Equatable, CaseIterable {
    /// The content filter refused the prompt or the output.
    case contentBlocked = "content_blocked"
    /// The request could not be run as given (a bad reference, a rejected parameter).
    case invalidRequest = "invalid_request"
    /// The upstream model stayed unavailable through every retry.
    case upstreamUnavailable = "upstream_unavailable"
    /// The upstream refused this server's credentials, or answered nonsense.
    case upstreamError = "upstream_error"
    /// The engine did not finish within the job timeout.
    case timedOut = "timed_out"
    /// Its workers kept dying.
    case workerLost = "worker_lost"
    /// Withdrawn from the queue before it ran (its key was revoked or disabled).
    case cancelled
    /// A bug.
    case `internal`
}
