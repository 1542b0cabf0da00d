import Foundation
import GRDB

/// The embedded database: one SQLite file in WAL mode, shared by the job store and the key
/// store, and safe to open from several processes at once (the server and `keys create`).
public final class SQLiteDatabase: Sendable {
    public let pool: DatabasePool
    public let path: String

    /// Opens (creating if needed) the database at `path` and migrates it.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL with NORMAL sync survives a process crash (kill -9) without losing a
            // committed transaction; only an OS crash may lose the last few.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // The WAL grows to hold the largest transaction (a submission with inline images
            // can be tens of MB) and keeps that size; past this limit it is cut back once
            // checkpointed, so the space comes back as the main file's does.
            try db.execute(sql: "PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
        self.path = path
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        try Self.useIncrementalVacuum(pool)
    }

    /// Lets the file shrink when rows go (``SQLiteJobStore/reclaimSpace()``): SQLite frees
    /// pages for reuse but never gives them back unless the database is in incremental
    /// auto-vacuum mode, which an existing file enters only through one full VACUUM. That
    /// VACUUM runs once, on the first open after the upgrade (outside any transaction, so
    /// not as a migration step), and takes as long as copying the file.
    static func useIncrementalVacuum(_ pool: DatabasePool) throws {
        let incremental = 2
        guard try pool.read({ db in try db.cachedValue(Int.self, sql: "PRAGMA auto_vacuum") }) != incremental else {
            return
        }
        try pool.barrierWriteWithoutTransaction { db in
            try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            try db.execute(sql: "VACUUM")
        }
    }

    /// Bytes the write-ahead log keeps between checkpoints: 16 MiB.
    static let walSizeLimit = 16 * 1024 * 1024

    /// A read of the database file, or the error that stops it.
    public func ping() throws {
        _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        key_id TEXT NOT NULL,
                        model TEXT NOT NULL,
                        seed INTEGER NOT NULL,
                        status TEXT NOT NULL,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        max_attempts INTEGER NOT NULL,
                        worker_id TEXT,
                        lease_expires_at REAL,
                        error TEXT,
                        created_at REAL NOT NULL,
                        started_at REAL,
                        completed_at REAL,
                        blob_key TEXT,
                        output_format TEXT,
                        width INTEGER,
                        height INTEGER,
                        text TEXT,
                        engine TEXT,
                        inference_time REAL
                    );
                    CREATE TABLE job_parameters (
                        id TEXT PRIMARY KEY,
                        parameters TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX jobs_by_status ON jobs(status, seq);
                    CREATE INDEX jobs_by_lease ON jobs(lease_expires_at) WHERE status = 'PROCESSING';
                    CREATE INDEX jobs_by_completion ON jobs(completed_at) WHERE completed_at IS NOT NULL;
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY,
                        name TEXT NOT NULL,
                        key_hash TEXT NOT NULL UNIQUE,
                        prefix TEXT NOT NULL,
                        created_at REAL NOT NULL,
                        revoked_at REAL
                    );
                    CREATE TABLE settings (
                        name TEXT PRIMARY KEY,
                        value BLOB NOT NULL
                    );
                    """
            )
        }
        migrator.registerMigration("v2-blobs") { db in
            try db.execute(sql: "CREATE TABLE blobs (key TEXT PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID")
        }
        migrator.registerMigration("v3-failure-codes") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN error_code TEXT")
        }
        migrator.registerMigration("v4-upstream-usage") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN usage TEXT")
        }
        migrator.registerMigration("v5-credits") { db in
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN credits INTEGER;
                    ALTER TABLE jobs ADD COLUMN cost INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE credit_ledger (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        key_id TEXT NOT NULL,
                        request_id TEXT,
                        kind TEXT NOT NULL,
                        amount INTEGER NOT NULL,
                        balance_after INTEGER,
                        created_at REAL NOT NULL
                    );
                    CREATE INDEX credit_ledger_by_key ON credit_ledger(key_id, seq);
                    """)
        }
        migrator.registerMigration("v6-rate-limits") { db in
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN rpm INTEGER;
                    ALTER TABLE api_keys ADD COLUMN burst INTEGER;
                    ALTER TABLE api_keys ADD COLUMN max_in_flight INTEGER;
                    ALTER TABLE api_keys ADD COLUMN bucket_tokens REAL;
                    ALTER TABLE api_keys ADD COLUMN bucket_updated_at REAL;
                    CREATE INDEX jobs_in_flight_by_key ON jobs(key_id) WHERE status IN ('QUEUED', 'PROCESSING');
                    """)
        }
        migrator.registerMigration("v7-permissions") { db in
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
                    ALTER TABLE api_keys ADD COLUMN models TEXT;
                    ALTER TABLE api_keys ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
                    """)
        }
        migrator.registerMigration("v8-ledger-by-request") { db in
            try db.execute(sql: "CREATE INDEX credit_ledger_by_request ON credit_ledger(request_id)")
        }
        migrator.registerMigration("v9-bounded-credits") { db in
            // Before balances were bounded, a sum past 2^63 made SQLite store a REAL that no
            // read could take back as an integer. Such values, and any past the maximum, are
            // clamped into range as integers (non-numbers become 0).
            for (table, column, lowest) in [
                ("api_keys", "credits", 0), ("credit_ledger", "balance_after", 0),
                ("credit_ledger", "amount", -StoreMaxima.credits),
            ] {
                try db.execute(
                    sql: """
                        UPDATE \(table) SET \(column) = CASE
                            WHEN typeof(\(column)) NOT IN ('integer', 'real') THEN 0
                            WHEN \(column) > ? THEN ? WHEN \(column) < ? THEN ?
                            ELSE CAST(\(column) AS INTEGER) END
                        WHERE \(column) IS NOT NULL
                        AND (typeof(\(column)) <> 'integer' OR \(column) > ? OR \(column) < ?)
                        """,
                    arguments: [
                        StoreMaxima.credits, StoreMaxima.credits, lowest, lowest, StoreMaxima.credits, lowest,
                    ])
            }
        }
        migrator.registerMigration("v10-queued-bytes") { db in
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN parameter_bytes INTEGER NOT NULL DEFAULT 0;
                    UPDATE jobs SET parameter_bytes = COALESCE(
                        (SELECT length(CAST(parameters AS BLOB)) FROM job_parameters WHERE job_parameters.id = jobs.id), 0)
                    WHERE status IN ('QUEUED', 'PROCESSING');
                    """)
        }
        migrator.registerMigration("v11-http-request-ids") { db in
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN http_request_id TEXT")
        }
        migrator.registerMigration("v12-webhooks") { db in
            try db.execute(
                sql: """
                    ALTER TABLE api_keys ADD COLUMN webhook_secret TEXT;
                    ALTER TABLE api_keys ADD COLUMN webhooks TEXT;
                    ALTER TABLE jobs ADD COLUMN webhooks TEXT;
                    """ + WebhookSchema.tables(time: "REAL"))
        }
        migrator.registerMigration("v14-idempotency") { db in
            try db.execute(sql: IdempotencySchema.tables(time: "REAL"))
        }
        migrator.registerMigration("v15-uploads") { db in
            // The history reads a key's requests by creation time (the index also holds the
            // rowid, `seq`, which breaks ties); a job keeps its shortened body for it.
            try db.execute(
                sql: """
                    ALTER TABLE jobs ADD COLUMN request_body TEXT;
                    CREATE INDEX jobs_by_key_created ON jobs(key_id, created_at);
                    """ + UploadSchema.tables(time: "REAL"))
        }
        return migrator
    }
}

extension DatabasePool {
    /// Runs one SELECT on the calling thread, without a surrounding transaction (a single
    /// statement is consistent on its own); for multi-statement reads use `read`.
    ///
    /// Point reads by key take microseconds, much less than the thread hops of GRDB's async
    /// API, which under load queued every lookup behind hundreds of request tasks (see
    /// BENCHMARKS.md); the price is that a task blocks for the length of one short read.
    func readNow<T>(_ value: (Database) throws -> T) throws -> T {
        try unsafeRead(value)
    }

    /// Runs a short write transaction on the calling thread. The workers' claims and
    /// completions use it: through an async hop, each worker step waited behind every
    /// queued request task, and a job took hundreds of milliseconds under polling load.
    func writeNow<T>(_ updates: (Database) throws -> T) throws -> T {
        try write(updates)
    }
}
