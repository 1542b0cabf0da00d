import Foundation
import Logging
import NIOCore
import NanoBananaAPI
import PostgresNIO

/// The writes that end or move a job, shared by the job store and the key store (which
/// withdraws a revoked or disabled key's QUEUED jobs), inside the caller's transaction.
struct PostgresJobWrites: Sendable {
    /// The deployment's channel (``PostgresEvents``).
    let channel: String
    let logger: Logger

    /// Writes the state (changed from `previous`) in one statement; a job that has just
    /// ended also stores its image (when COMPLETED), drops its parameters, writes its
    /// webhook events (``WebhookPlan``) and is announced, and its credits are settled or
    /// refunded, all in the caller's transaction.
    func writeState(
        _ connection: PostgresConnection, job: JobRecord, from previous: JobStatus, startedAt: Date? = nil,
        completedAt: Date? = nil, output: (JobOutput, [UInt8])? = nil
    ) async throws {
        let state = job.state
        let events = WebhookPlan.events(for: job, from: previous, now: completedAt ?? startedAt ?? Date())
        var sql = SQLBuilder()
        var assignments = """
            status = \(sql.bind(state.status.rawValue)), attempts = \(sql.bind(state.attempts)), \
            worker_id = \(sql.bind(state.workerID)), \
            lease_expires_at = \(sql.bind(state.leaseExpiresAt?.timeIntervalSince1970)), \
            error = \(sql.bind(state.error)), error_code = \(sql.bind(state.failureCode?.rawValue)), \
            started_at = COALESCE(\(sql.bind(startedAt?.timeIntervalSince1970)), started_at), \
            completed_at = COALESCE(\(sql.bind(completedAt?.timeIntervalSince1970)), completed_at)
            """
        let id = sql.bind(job.id)
        guard state.status.isTerminal else {
            let text = "UPDATE jobs SET \(assignments) WHERE id = \(id)"
            try await connection.run(sql.query(text), logger: logger)
            try await insert(events, on: connection)
            return
        }
        var image = ""
        if let (output, bytes) = output {
            let key = sql.bind(output.blobKey)
            assignments += """
                , blob_key = \(key), output_format = \(sql.bind(output.format.rawValue)), \
                width = \(sql.bind(output.width)), height = \(sql.bind(output.height)), text = \(sql.bind(output.text)), \
                engine = \(sql.bind(output.engine)), inference_time = \(sql.bind(output.inferenceTime)), \
                usage = \(sql.bind(output.usage.stored))
                """
            image = """
                image AS (
                    INSERT INTO blobs (key, bytes) VALUES (\(key), \(sql.bind(ByteBuffer(bytes: bytes))))
                    ON CONFLICT (key) DO UPDATE SET bytes = EXCLUDED.bytes
                ),
                """
        }
        // Bind first, then take the query: `sql.query(…)` would copy `sql` before its
        // argument's binds were added.
        let outbox =
            events.isEmpty
            ? ""
            : """
            outbox AS (
                INSERT INTO webhook_events (id, job_id, key_id, type, url, created_at, state, attempts, next_attempt_at)
                VALUES \(Self.values(of: events, binding: &sql))
            ),
            """
        let text = """
            WITH \(image) \(outbox) state AS (
                UPDATE jobs SET \(assignments) WHERE id = \(id)
            ), parameters AS (
                DELETE FROM job_parameters WHERE id = \(id)
            )
            SELECT pg_notify(\(sql.bind(channel)), \(sql.bind(PostgresEvents.finishedPayload(job.id))))
            """
        try await connection.run(sql.query(text), logger: logger)
        if let closing = CreditPolicy.closing(job) {
            try await PostgresRules.apply(
                closing, keyID: job.keyID, now: completedAt ?? Date(), on: connection, logger: logger)
        }
    }

    /// Writes webhook events in a statement of their own (a claim's `processing`, which is rare).
    func insert(_ events: [NewWebhookEvent], on connection: PostgresConnection) async throws {
        guard !events.isEmpty else { return }
        var sql = SQLBuilder()
        let values = Self.values(of: events, binding: &sql)
        let text = """
            INSERT INTO webhook_events (id, job_id, key_id, type, url, created_at, state, attempts, next_attempt_at)
            VALUES \(values)
            """
        try await connection.run(sql.query(text), logger: logger)
    }

    /// The rows of `events` for an INSERT's VALUES, bound into `sql`: PENDING, due at once.
    static func values(of events: [NewWebhookEvent], binding sql: inout SQLBuilder) -> String {
        events.map { event in
            let created = sql.bind(event.createdAt.timeIntervalSince1970)
            return """
                (\(sql.bind(event.id)), \(sql.bind(event.jobID)), \(sql.bind(event.keyID)), \
                \(sql.bind(event.type.rawValue)), \(sql.bind(event.url)), \(created), 'PENDING', 0, \(created))
                """
        }.joined(separator: ", ")
    }

    /// Withdraws the key's QUEUED jobs (its key was revoked or disabled): each FAILS with
    /// `error`, is refunded, loses its parameters and is announced. Jobs a worker already
    /// runs may finish. The caller holds the key's row. Returns the withdrawn jobs, to be
    /// logged once committed.
    func cancelQueued(
        _ connection: PostgresConnection, keyID: String, error: String, now: Date
    ) async throws -> [JobRecord] {
        let queued = try await connection.records(
            JobRecord.init(columns:),
            """
            SELECT \(unescaped: JobRecord.columns) FROM jobs WHERE key_id = \(keyID) AND status = 'QUEUED' FOR UPDATE
            """, logger: logger)
        var withdrawn: [JobRecord] = []
        for var job in queued {
            try job.state.apply(.cancel(error: error))
            try await writeState(connection, job: job, from: .queued, completedAt: now)
            withdrawn.append(job)
        }
        return withdrawn
    }
}
