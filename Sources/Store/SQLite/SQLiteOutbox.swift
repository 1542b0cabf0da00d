import Foundation
import GRDB

/// The webhook outbox's statements in SQLite, inside the caller's write transaction.
enum SQLiteOutbox {
    static func insert(_ events: [NewWebhookEvent], in db: Database) throws {
        for event in events {
            try db.cachedExecute(
                sql: """
                    INSERT INTO webhook_events (id, job_id, key_id, type, url, created_at, state, attempts, next_attempt_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'PENDING', 0, ?)
                    """,
                arguments: [
                    event.id, event.jobID, event.keyID, event.type.rawValue, event.url,
                    event.createdAt.timeIntervalSince1970, event.createdAt.timeIntervalSince1970,
                ])
        }
    }

    /// Deletes a deleted job's finished events (attempts go with them); PENDING ones stay
    /// to finish their retries.
    static func deleteFinishedEvents(jobID: String, in db: Database) throws {
        try db.cachedExecute(
            sql: "DELETE FROM webhook_events WHERE job_id = ? AND state <> 'PENDING'", arguments: [jobID])
    }

    /// Deletes finished events whose job is gone (they were PENDING when it went).
    static func deleteOrphans(in db: Database) throws {
        try db.cachedExecute(
            sql: """
                DELETE FROM webhook_events WHERE state <> 'PENDING'
                AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = webhook_events.job_id)
                """)
    }
}

extension SQLiteJobStore: WebhookOutbox {
    public func claimDue(limit: Int, lease: TimeInterval) async throws -> [WebhookEvent] {
        let now = clock.now()
        return try await pool.write { db in
            let due = try db.records(
                WebhookEvent.init(columns:),
                sql: """
                    SELECT \(WebhookEvent.columns) FROM webhook_events
                    WHERE state = 'PENDING' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?
                    """,
                arguments: [now.timeIntervalSince1970, limit])
            let until = now.addingTimeInterval(lease)
            return try due.map { event in
                var event = event
                event.attempts += 1
                event.nextAttemptAt = until
                try db.cachedExecute(
                    sql: "UPDATE webhook_events SET attempts = ?, next_attempt_at = ? WHERE id = ?",
                    arguments: [event.attempts, until.timeIntervalSince1970, event.id])
                return event
            }
        }
    }

    public func record(
        _ attempt: WebhookAttempt, payload: String?, state: WebhookEventState, nextAttemptAt: Date?
    ) async throws -> Bool {
        try await pool.write { db in
            try db.cachedExecute(
                sql: """
                    UPDATE webhook_events SET state = ?, next_attempt_at = ?, payload = COALESCE(payload, ?)
                    WHERE id = ? AND attempts = ?
                    """,
                arguments: [
                    state.rawValue, state == .pending ? nextAttemptAt?.timeIntervalSince1970 : nil, payload,
                    attempt.eventID, attempt.number,
                ])
            guard db.changesCount > 0 else { return false }
            try db.cachedExecute(
                sql: """
                    INSERT OR REPLACE INTO webhook_attempts (event_id, number, at, status_code, error, latency_ms)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.eventID, attempt.number, attempt.at.timeIntervalSince1970, attempt.statusCode,
                    attempt.error, attempt.latencyMilliseconds,
                ])
            return true
        }
    }

    public func deliveries(jobID: String) async throws -> [WebhookDelivery] {
        try await pool.read { db in
            try Self.withAttempts(
                db.records(
                    WebhookEvent.init(columns:),
                    sql: "SELECT \(WebhookEvent.columns) FROM webhook_events WHERE job_id = ? ORDER BY created_at, id",
                    arguments: [jobID]), in: db)
        }
    }

    public func recentEvents(keyID: String, url: String, limit: Int) async throws -> [WebhookDelivery] {
        try await pool.read { db in
            try Self.withAttempts(
                db.records(
                    WebhookEvent.init(columns:),
                    sql: """
                        SELECT \(WebhookEvent.columns) FROM webhook_events WHERE key_id = ? AND url = ?
                        ORDER BY created_at DESC, id LIMIT ?
                        """,
                    arguments: [keyID, url, limit]), in: db)
        }
    }

    private static func withAttempts(_ events: [WebhookEvent], in db: Database) throws -> [WebhookDelivery] {
        try events.map { event in
            WebhookDelivery(
                event: event,
                attempts: try db.records(
                    WebhookAttempt.init(columns:),
                    sql: "SELECT \(WebhookAttempt.columns) FROM webhook_attempts WHERE event_id = ? ORDER BY number",
                    arguments: [event.id]))
        }
    }

    public func redeliver(jobID: String) async throws -> [WebhookEvent] {
        let now = clock.now()
        return try await pool.write { db in
            try db.cachedExecute(
                sql: """
                    UPDATE webhook_events SET state = 'PENDING', next_attempt_at = ?
                    WHERE job_id = ? AND type IN ('completed', 'failed')
                    """,
                arguments: [now.timeIntervalSince1970, jobID])
            return try db.records(
                WebhookEvent.init(columns:),
                sql: """
                    SELECT \(WebhookEvent.columns) FROM webhook_events
                    WHERE job_id = ? AND type IN ('completed', 'failed') ORDER BY created_at, id
                    """,
                arguments: [jobID])
        }
    }

    public func nextDue() async throws -> Date? {
        try pool.readNow { db in
            try db.cachedValue(
                Double.self, sql: "SELECT MIN(next_attempt_at) FROM webhook_events WHERE state = 'PENDING'"
            ).map(Date.init(timeIntervalSince1970:))
        }
    }
}
