import Foundation
import Logging
import PostgresNIO

/// The webhook outbox in PostgreSQL. Deliverers on any node claim with
/// `FOR UPDATE SKIP LOCKED`, so no two take the same attempt.
extension PostgresJobStore: WebhookOutbox {
    public func claimDue(limit: Int, lease: TimeInterval) async throws -> [WebhookEvent] {
        let now = clock.now().timeIntervalSince1970
        let until = now + lease
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                WebhookEvent.init(columns:),
                """
                WITH due AS (
                    SELECT id FROM webhook_events WHERE state = 'PENDING' AND next_attempt_at <= \(now)
                    ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                )
                UPDATE webhook_events SET attempts = webhook_events.attempts + 1, next_attempt_at = \(until)
                FROM due WHERE webhook_events.id = due.id
                RETURNING \(unescaped: Self.qualifiedEventColumns)
                """, logger: logger)
        }
    }

    static let qualifiedEventColumns = WebhookEvent.columns.split(separator: ",")
        .map { "webhook_events." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")

    public func record(
        _ attempt: WebhookAttempt, payload: String?, state: WebhookEventState, nextAttemptAt: Date?
    ) async throws -> Bool {
        let logger = logger
        let next = state == .pending ? nextAttemptAt?.timeIntervalSince1970 : nil
        return try await database.withConnection { connection in
            let rows = try await connection.rows(
                """
                WITH event AS (
                    UPDATE webhook_events SET state = \(state.rawValue), next_attempt_at = \(next),
                    payload = COALESCE(payload, \(payload))
                    WHERE id = \(attempt.eventID) AND attempts = \(attempt.number)
                    RETURNING id
                )
                INSERT INTO webhook_attempts (event_id, number, at, status_code, error, latency_ms)
                SELECT id, \(attempt.number), \(attempt.at.timeIntervalSince1970), \(attempt.statusCode), \
                \(attempt.error), \(attempt.latencyMilliseconds) FROM event
                ON CONFLICT (event_id, number) DO NOTHING
                RETURNING 1
                """, logger: logger)
            return !rows.isEmpty
        }
    }

    public func deliveries(jobID: String) async throws -> [WebhookDelivery] {
        let logger = logger
        return try await database.withConnection { connection in
            let events = try await connection.records(
                WebhookEvent.init(columns:),
                """
                SELECT \(unescaped: WebhookEvent.columns) FROM webhook_events WHERE job_id = \(jobID)
                ORDER BY created_at, id
                """, logger: logger)
            return try await Self.withAttempts(events, on: connection, logger: logger)
        }
    }

    public func recentEvents(keyID: String, url: String, limit: Int) async throws -> [WebhookDelivery] {
        let logger = logger
        return try await database.withConnection { connection in
            let events = try await connection.records(
                WebhookEvent.init(columns:),
                """
                SELECT \(unescaped: WebhookEvent.columns) FROM webhook_events WHERE key_id = \(keyID) AND url = \(url)
                ORDER BY created_at DESC, id LIMIT \(limit)
                """, logger: logger)
            return try await Self.withAttempts(events, on: connection, logger: logger)
        }
    }

    private static func withAttempts(
        _ events: [WebhookEvent], on connection: PostgresConnection, logger: Logger
    ) async throws -> [WebhookDelivery] {
        guard !events.isEmpty else { return [] }
        let attempts = try await connection.records(
            WebhookAttempt.init(columns:),
            """
            SELECT \(unescaped: WebhookAttempt.columns) FROM webhook_attempts
            WHERE event_id = ANY(\(events.map(\.id))) ORDER BY number
            """, logger: logger)
        let byEvent = Dictionary(grouping: attempts, by: \.eventID)
        return events.map { WebhookDelivery(event: $0, attempts: byEvent[$0.id] ?? []) }
    }

    public func redeliver(jobID: String) async throws -> [WebhookEvent] {
        let now = clock.now().timeIntervalSince1970
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                WebhookEvent.init(columns:),
                """
                UPDATE webhook_events SET state = 'PENDING', next_attempt_at = \(now)
                WHERE job_id = \(jobID) AND type IN ('completed', 'failed')
                RETURNING \(unescaped: WebhookEvent.columns)
                """, logger: logger
            ).sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        }
    }

    public func nextDue() async throws -> Date? {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.value(
                Double?.self, "SELECT min(next_attempt_at) FROM webhook_events WHERE state = 'PENDING'",
                logger: logger) ?? nil
        }.map(Date.init(timeIntervalSince1970:))
    }
}
