import Crypto
import Foundation

/// An `Idempotency-Key` request header, checked: 1 to 255 printable ASCII characters
/// (space to `~`), neither starting nor ending with a space (HTTP trims those).
public struct IdempotencyKey: Sendable, Hashable {
    public static let headerName = "Idempotency-Key"
    public static let maxLength = 255

    public let value: String

    /// Checks a header's value; the error's sentence names the header.
    public init(header value: String) throws(InvalidIdempotencyKey) {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.allSatisfy({ (0x20...0x7E).contains($0) }), bytes.first != 0x20, bytes.last != 0x20 else {
            throw .notPrintable
        }
        guard bytes.count <= Self.maxLength else { throw .tooLong(bytes.count) }
        self.value = value
    }
}

/// Why an `Idempotency-Key` header was refused (the API answers 400 with ``description``).
public enum InvalidIdempotencyKey: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case notPrintable
    /// The header was sent more than once.
    case repeated

    public var description: String {
        let header = "Invalid '\(IdempotencyKey.headerName)' header"
        return switch self {
        case .empty: "\(header): it is empty; send 1 to \(IdempotencyKey.maxLength) printable ASCII characters."
        case .tooLong(let count):
            "\(header): it has \(count) characters; at most \(IdempotencyKey.maxLength) are allowed."
        case .notPrintable:
            "\(header): use printable ASCII characters only (space to '~'), with no space at either end."
        case .repeated: "\(header): send it once."
        }
    }
}

/// A submission made under an ``IdempotencyKey``: which earlier request it may replay, decided
/// without I/O. The record of a key lives with the jobs (one row per API key and
/// idempotency key, written in the transaction that enqueues its job); the store reads it
/// (``Stored``), asks ``decide(_:now:)``, and replays the job, refuses the submission, or
/// enqueues it and writes the record, in that transaction.
public struct IdempotentSubmit: Sendable, Equatable {
    /// How long a key is remembered: 24 hours.
    public static let window: TimeInterval = 24 * 3600

    public var key: IdempotencyKey
    /// ``fingerprint(of:)`` of what the request asks for: the same key with another
    /// fingerprint is refused (``IdempotencyKeyReused``).
    public var fingerprint: String
    /// How long a finished job stays readable (the server's retention): a key whose job
    /// finished longer ago than that has nothing left to replay, and is fresh again.
    public var retention: TimeInterval

    public init(key: IdempotencyKey, fingerprint: String, retention: TimeInterval) {
        self.key = key
        self.fingerprint = fingerprint
        self.retention = retention
    }

    /// A key's record as stored, with what the store knows of its job.
    public struct Stored: Sendable, Equatable {
        public var fingerprint: String
        public var jobID: String
        public var createdAt: Date
        /// Whether the job is still stored (retention deletes finished jobs).
        public var jobExists: Bool
        /// When the job finished; `nil` while it runs.
        public var jobCompletedAt: Date?

        public init(fingerprint: String, jobID: String, createdAt: Date, jobExists: Bool, jobCompletedAt: Date?) {
            self.fingerprint = fingerprint
            self.jobID = jobID
            self.createdAt = createdAt
            self.jobExists = jobExists
            self.jobCompletedAt = jobCompletedAt
        }
    }

    public enum Decision: Sendable, Equatable {
        /// No live record: enqueue the job and write (or overwrite) the record.
        case fresh
        /// The same request again: return this job as it is now, enqueue and charge nothing.
        case replay(jobID: String)
        /// The key was used for another request: refuse.
        case mismatch
    }

    public func decide(_ stored: Stored?, now: Date) -> Decision {
        guard let stored, isLive(stored, now: now) else { return .fresh }
        return stored.fingerprint == fingerprint ? .replay(jobID: stored.jobID) : .mismatch
    }

    /// Whether a record still stands: younger than ``window``, and its job still there to
    /// be read (not deleted, nor finished longer than the retention ago).
    public func isLive(_ stored: Stored, now: Date) -> Bool {
        guard stored.jobExists, now.timeIntervalSince(stored.createdAt) < Self.window else { return false }
        guard let completed = stored.jobCompletedAt else { return true }
        return now.timeIntervalSince(completed) < retention
    }

    /// Records created before this are expired at `now`, whatever their job: the retention
    /// sweep deletes them.
    public static func expiry(now: Date) -> Date { now.addingTimeInterval(-window) }

    /// The SHA-256 (hex) of a request's canonical form: `parts` (the route, the model, the
    /// validated parameters as canonical JSON, the query parameters that change the job)
    /// as a JSON object with sorted keys, so that their order and the spelling of the body
    /// (white space, key order, defaults written out or left out) do not matter.
    public static func fingerprint(of parts: [String: String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let canonical = (try? encoder.encode(parts)) ?? Data()
        return SHA256.hash(data: canonical).map { String(format: "%02x", $0) }.joined()
    }
}

/// What an enqueue did: made the job, or found the idempotency key's earlier one.
public struct Enqueued: Sendable, Equatable {
    /// The new job, or the replayed one as it is now.
    public var job: JobRecord
    /// `true` when nothing was enqueued or charged: ``job`` is the key's earlier request.
    public var replayed: Bool

    public init(job: JobRecord, replayed: Bool) {
        self.job = job
        self.replayed = replayed
    }
}

/// The submission's `Idempotency-Key` was used, within its window, for a request with other
/// parameters (the API answers 422).
public struct IdempotencyKeyReused: Error, Sendable, Equatable, CustomStringConvertible {
    public init() {}

    public var description: String {
        "This '\(IdempotencyKey.headerName)' was already used for a different request (another body, model, route or webhook) in the last 24 hours. Use a new key for a new request."
    }
}
