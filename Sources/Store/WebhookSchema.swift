/// The webhook outbox's tables, the same in both stores but for the type of times.
///
/// `webhook_events`: one row per event and target (``WebhookEvent``), written in the
/// transaction that changes the job; `webhook_attempts`: one row per attempt, deleted with
/// its event.
enum WebhookSchema {
    static func tables(time: String) -> String {
        """
        CREATE TABLE webhook_events (
            id TEXT PRIMARY KEY,
            job_id TEXT NOT NULL,
            key_id TEXT NOT NULL,
            type TEXT NOT NULL,
            url TEXT NOT NULL,
            created_at \(time) NOT NULL,
            payload TEXT,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at \(time)
        );
        CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE state = 'PENDING';
        CREATE INDEX webhook_events_by_job ON webhook_events (job_id);
        CREATE INDEX webhook_events_by_key ON webhook_events (key_id, created_at);
        CREATE TABLE webhook_attempts (
            event_id TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            at \(time) NOT NULL,
            status_code INTEGER,
            error TEXT,
            latency_ms INTEGER NOT NULL,
            PRIMARY KEY (event_id, number)
        );
        """
    }
}
