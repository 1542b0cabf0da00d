import Foundation
import NanoBananaAPI

extension JobRecord {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns = """
        seq, id, key_id, model, seed, status, attempts, max_attempts, worker_id, lease_expires_at, error, \
        created_at, started_at, completed_at, blob_key, output_format, width, height, text, engine, inference_time, \
        error_code, usage, cost, http_request_id, webhooks
        """

    /// How many columns ``columns`` names: a statement's added columns start here.
    static let columnCount = columns.split(separator: ",").count

    /// ``columns`` qualified by the `jobs` table, for statements that join it.
    static let qualifiedColumns = columns.split(separator: ",")
        .map { "jobs." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    init(columns row: some ColumnReader) throws {
        let status = JobStatus(rawValue: try row.string(5)) ?? .failed
        var state = JobState(
            status: status, attempts: try row.int(6), maxAttempts: try row.int(7), workerID: try row.optionalString(8),
            leaseExpiresAt: try row.optionalDate(9), error: try row.optionalString(10))
        state.failureCode = try row.optionalString(21).flatMap(FailureCode.init(rawValue:))
        var output: JobOutput?
        if status == .completed, let blobKey = try row.optionalString(14),
            let format = OutputFormat(rawValue: try row.optionalString(15) ?? "")
        {
            output = JobOutput(
                blobKey: blobKey, format: format, width: try row.optionalInt(16) ?? 0,
                height: try row.optionalInt(17) ?? 0, text: try row.optionalString(18),
                engine: try row.optionalString(19) ?? "unknown", inferenceTime: try row.optionalDouble(20) ?? 0,
                usage: try row.optionalString(22).flatMap(UpstreamUsage.init(stored:)) ?? .init())
        }
        self.init(
            sequence: try row.int64(0), id: try row.string(1), keyID: try row.string(2), model: try row.string(3),
            seed: try row.int64(4), cost: try row.int(23), state: state, createdAt: try row.date(11),
            startedAt: try row.optionalDate(12), completedAt: try row.optionalDate(13), output: output,
            httpRequestID: try row.optionalString(24), webhooks: [WebhookTarget](stored: try row.optionalString(25)))
    }
}

extension APIKey {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns =
        "id, name, prefix, created_at, revoked_at, credits, role, models, disabled, rpm, burst, max_in_flight, webhooks"

    init(columns row: some ColumnReader) throws {
        self.init(
            id: try row.string(0), name: try row.string(1), prefix: try row.string(2), createdAt: try row.date(3),
            revokedAt: try row.optionalDate(4), credits: try row.optionalInt(5),
            role: APIKeyRole(rawValue: try row.string(6)) ?? .user,
            allowedModels: Self.models(stored: try row.optionalString(7)), isDisabled: try row.bool(8),
            requestsPerMinute: try row.optionalInt(9), burst: try row.optionalInt(10),
            maxInFlight: try row.optionalInt(11),
            webhooks: WebhookSubscriptions.list(stored: try row.optionalString(12)))
    }
}

extension CreditLedgerEntry {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns = "seq, kind, amount, balance_after, request_id, created_at"

    init(columns row: some ColumnReader) throws {
        self.init(
            sequence: try row.int64(0), kind: Kind(rawValue: try row.string(1)) ?? .grant, amount: try row.int(2),
            balanceAfter: try row.optionalInt(3) ?? 0, requestID: try row.optionalString(4),
            createdAt: try row.date(5))
    }
}

extension WebhookEvent {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns = "id, job_id, key_id, type, url, created_at, payload, state, attempts, next_attempt_at"

    init(columns row: some ColumnReader) throws {
        self.init(
            id: try row.string(0), jobID: try row.string(1), keyID: try row.string(2),
            type: WebhookEventType(rawValue: try row.string(3)) ?? .failed, url: try row.string(4),
            createdAt: try row.date(5), payload: try row.optionalString(6),
            state: WebhookEventState(rawValue: try row.string(7)) ?? .exhausted, attempts: try row.int(8),
            nextAttemptAt: try row.optionalDate(9))
    }
}

extension WebhookAttempt {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns = "event_id, number, at, status_code, error, latency_ms"

    init(columns row: some ColumnReader) throws {
        self.init(
            eventID: try row.string(0), number: try row.int(1), at: try row.date(2), statusCode: try row.optionalInt(3),
            error: try row.optionalString(4), latencyMilliseconds: try row.int(5))
    }
}

extension UpstreamUsage {
    /// The stored form: JSON, or `nil` for no usage at all (most jobs of most engines).
    var stored: String? {
        guard self != UpstreamUsage() else { return nil }
        return (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }

    init?(stored json: String) {
        guard let usage = try? JSONDecoder().decode(UpstreamUsage.self, from: Data(json.utf8)) else { return nil }
        self = usage
    }
}

extension IdempotentSubmit.Stored {
    /// Reads the columns of ``IdempotencySchema/selectRecord(placeholders:)``, with the
    /// record's job as stored (`nil`: deleted).
    init(columns row: some ColumnReader, job: JobRecord?) throws {
        self.init(
            fingerprint: try row.string(0), jobID: try row.string(1), createdAt: try row.date(2),
            jobExists: job != nil, jobCompletedAt: job?.completedAt)
    }
}
