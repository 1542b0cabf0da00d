/// The PostgreSQL schema, step by step. Steps are only ever appended; each runs once, in
/// ``PostgresDatabase/migrate()``'s transaction. Times are seconds since 1970 as `float8`,
/// read from the nodes' clocks like the SQLite store's, so both stores share one model of
/// time (keep the nodes' clocks in sync with NTP: leases compare them).
enum PostgresMigrations {
    struct Migration {
        let version: String
        let sql: String

        /// The step's statements (its SQL holds no `;` other than their ends).
        var statements: [String] {
            sql.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
        }
    }

    static let all = [
        Migration(
            version: "v1-cluster",
            sql: """
                CREATE TABLE jobs (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
                    id TEXT PRIMARY KEY,
                    key_id TEXT NOT NULL,
                    model TEXT NOT NULL,
                    seed BIGINT NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    max_attempts INTEGER NOT NULL,
                    worker_id TEXT,
                    lease_expires_at DOUBLE PRECISION,
                    error TEXT,
                    error_code TEXT,
                    created_at DOUBLE PRECISION NOT NULL,
                    started_at DOUBLE PRECISION,
                    completed_at DOUBLE PRECISION,
                    blob_key TEXT,
                    output_format TEXT,
                    width INTEGER,
                    height INTEGER,
                    text TEXT,
                    engine TEXT,
                    inference_time DOUBLE PRECISION,
                    usage TEXT,
                    cost INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX jobs_queued ON jobs (seq) WHERE status = 'QUEUED';
                CREATE INDEX jobs_by_lease ON jobs (lease_expires_at) WHERE status = 'PROCESSING';
                CREATE INDEX jobs_by_completion ON jobs (completed_at) WHERE completed_at IS NOT NULL;
                CREATE INDEX jobs_in_flight_by_key ON jobs (key_id) WHERE status IN ('QUEUED', 'PROCESSING');
                CREATE TABLE job_parameters (
                    id TEXT PRIMARY KEY,
                    parameters TEXT NOT NULL
                );
                CREATE TABLE blobs (
                    key TEXT PRIMARY KEY,
                    bytes BYTEA NOT NULL
                );
                ALTER TABLE blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    key_hash TEXT NOT NULL UNIQUE,
                    prefix TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    revoked_at DOUBLE PRECISION,
                    credits INTEGER,
                    rpm INTEGER,
                    burst INTEGER,
                    max_in_flight INTEGER,
                    bucket_tokens DOUBLE PRECISION,
                    bucket_updated_at DOUBLE PRECISION,
                    role TEXT NOT NULL DEFAULT 'user',
                    models TEXT,
                    disabled BOOLEAN NOT NULL DEFAULT false
                );
                CREATE INDEX api_keys_by_name ON api_keys (name);
                CREATE TABLE credit_ledger (
                    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    key_id TEXT NOT NULL,
                    request_id TEXT,
                    kind TEXT NOT NULL,
                    amount INTEGER NOT NULL,
                    balance_after INTEGER,
                    created_at DOUBLE PRECISION NOT NULL
                );
                CREATE INDEX credit_ledger_by_key ON credit_ledger (key_id, seq);
                CREATE INDEX credit_ledger_by_request ON credit_ledger (request_id);
                CREATE TABLE settings (
                    name TEXT PRIMARY KEY,
                    value BYTEA NOT NULL
                );
                """),
        Migration(
            version: "v2-bounded-credits",
            sql: """
                ALTER TABLE api_keys ALTER COLUMN credits TYPE BIGINT;
                ALTER TABLE credit_ledger ALTER COLUMN amount TYPE BIGINT, ALTER COLUMN balance_after TYPE BIGINT;
                ALTER TABLE jobs ADD COLUMN parameter_bytes BIGINT NOT NULL DEFAULT 0;
                UPDATE jobs SET parameter_bytes = COALESCE(
                    (SELECT octet_length(parameters) FROM job_parameters WHERE job_parameters.id = jobs.id), 0)
                WHERE status IN ('QUEUED', 'PROCESSING')
                """),
        // The id of the HTTP request that submitted a job, for its log lines on any node.
        Migration(version: "v3-http-request-ids", sql: "ALTER TABLE jobs ADD COLUMN http_request_id TEXT"),
        Migration(
            version: "v4-webhooks",
            sql: """
                ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
                ALTER TABLE api_keys ADD COLUMN webhooks TEXT;
                ALTER TABLE jobs ADD COLUMN webhooks TEXT;
                """ + WebhookSchema.tables(time: "DOUBLE PRECISION")),
        Migration(version: "v6-idempotency", sql: IdempotencySchema.tables(time: "DOUBLE PRECISION")),
        // The history reads a key's requests by creation time, ties broken by `seq`; a job
        // keeps its shortened body for it. Uploads live beside the result images.
        Migration(
            version: "v7-uploads",
            sql: """
                ALTER TABLE jobs ADD COLUMN request_body TEXT;
                CREATE INDEX jobs_by_key_created ON jobs (key_id, created_at, seq);
                """ + UploadSchema.tables(time: "DOUBLE PRECISION")),
    ]
}
