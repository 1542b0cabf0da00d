import Foundation
import GRDB
import Logging
import NanoBananaAPI

/// The embedded ``JobStore``: jobs in SQLite. Each transition is one write transaction that
/// loads the job's ``JobState``, applies the event and writes it back.
///
/// Submissions are group-committed (``WriteBatcher``): many API requests share one commit.
/// The workers' claims and completions run on the worker's own thread (`writeNow`), so a
/// job's progress never waits in the task queue behind polling requests.
public final class SQLiteJobStore: JobStore {
    let pool: DatabasePool
    private let writer: WriteBatcher
    let clock: any WallClock
    private let leaseSweep = LeaseSweep()
    /// Where the changes the store makes on its own (expired leases, withdrawals) are logged.
    private let logger: Logger

    public init(database: SQLiteDatabase, clock: any WallClock = SystemWallClock(), logger: Logger = .discarding) {
        self.pool = database.pool
        self.writer = WriteBatcher(pool: database.pool)
        self.clock = clock
        self.logger = logger
    }

    public func enqueue(_ job: NewJob, idempotency: IdempotentSubmit?) async throws -> Enqueued {
        let now = clock.now()
        return try await writer.write { db in
            if let idempotency, let earlier = try Self.replay(idempotency, keyID: job.keyID, now: now, in: db) {
                return Enqueued(job: earlier, replayed: true)
            }
            if let limits = job.limits {
                try SQLiteRules.admit(
                    SubmitAdmission(limits: limits, now: now, bytes: job.parameterBytes), keyID: job.keyID, in: db)
            }
            if let reservation = CreditPolicy.reservation(for: job) {
                try SQLiteRules.require(reservation, keyID: job.keyID, now: now, in: db)
            }
            try db.cachedExecute(
                sql: """
                    INSERT INTO jobs (
                        id, key_id, model, seed, status, max_attempts, created_at, cost, parameter_bytes, http_request_id,
                        webhooks, request_body)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id, job.keyID, job.model, job.seed, JobStatus.queued.rawValue, job.maxAttempts,
                    now.timeIntervalSince1970, job.cost, job.parameterBytes, job.httpRequestID, job.webhooks?.stored,
                    job.requestBody,
                ]
            )
            let sequence = db.lastInsertedRowID
            try db.cachedExecute(
                sql: "INSERT INTO job_parameters (id, parameters) VALUES (?, ?)", arguments: [job.id, job.parameters])
            if let idempotency { try Self.remember(idempotency, for: job, now: now, in: db) }
            let record = JobRecord(
                sequence: sequence, id: job.id, keyID: job.keyID, model: job.model,
                seed: job.seed, cost: job.cost, state: JobState(maxAttempts: job.maxAttempts), createdAt: now,
                httpRequestID: job.httpRequestID, webhooks: job.webhooks)
            return Enqueued(job: record, replayed: false)
        }
    }

    public func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob? {
        let now = clock.now()
        let sweep = leaseSweep.due(now: now)
        var changed: [JobRecord] = []
        let claimed = try pool.writeNow { db in
            try Self.claim(db, worker: worker, lease: lease, now: now, sweep: sweep, changed: &changed)
        }
        logger.logStoreChanges(changed)
        return claimed
    }

    /// Claims the next job; the jobs the store changed on its own on the way (expired
    /// leases, withdrawals) go into `changed`, to be logged once committed.
    private static func claim(
        _ db: Database, worker: String, lease: TimeInterval, now: Date, sweep: Bool, changed: inout [JobRecord]
    ) throws -> ClaimedJob? {
        if sweep { changed += try expireLeases(db, now: now) }
        // A job whose key lost its standing is withdrawn (``KeyStanding``) and the next is taken.
        while true {
            guard
                let row = try db.cachedRow(
                    sql: """
                        SELECT \(JobRecord.columns), \(KeyStanding.columns) FROM jobs
                        WHERE status = 'QUEUED' ORDER BY seq LIMIT 1
                        """)
            else { return nil }
            let columns = SQLiteColumns(row)
            var job = try JobRecord(columns: columns)
            let standing = try KeyStanding(columns: columns, at: JobRecord.columnCount)
            try job.state.apply(standing.event(worker: worker, leaseUntil: now.addingTimeInterval(lease)))
            guard job.status == .processing else {
                try writeState(db, job: job, from: .queued, completedAt: now)
                changed.append(job)
                continue
            }
            job.startedAt = now
            try writeState(db, job: job, from: .queued, startedAt: now)
            let parameters =
                try db.cachedValue(
                    String.self, sql: "SELECT parameters FROM job_parameters WHERE id = ?", arguments: [job.id]) ?? "{}"
            return ClaimedJob(record: job, parameters: parameters)
        }
    }

    public func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool {
        let until = clock.now().addingTimeInterval(lease)
        return try await transition(jobID: jobID, event: .renew(worker: worker, leaseUntil: until))
    }

    public func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool {
        let now = clock.now()
        return try pool.writeNow { db in
            try Self.complete(db, jobID: jobID, worker: worker, output: output, image: image, now: now)
        }
    }

    public func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    ) async throws -> (completed: Bool, next: ClaimedJob?) {
        let now = clock.now()
        let sweep = leaseSweep.due(now: now)
        var changed: [JobRecord] = []
        let result = try pool.writeNow { db in
            let completed = try Self.complete(db, jobID: jobID, worker: worker, output: output, image: image, now: now)
            let next = try Self.claim(db, worker: worker, lease: lease, now: now, sweep: sweep, changed: &changed)
            return (completed, next)
        }
        logger.logStoreChanges(changed)
        return result
    }

    private static func complete(
        _ db: Database, jobID: String, worker: String, output: JobOutput, image: [UInt8], now: Date
    ) throws -> Bool {
        guard var job = try fetch(db, id: jobID) else { return false }
        do { try job.state.apply(.complete(worker: worker)) } catch { return false }
        try writeState(db, job: job, from: .processing, completedAt: now)
        try db.cachedExecute(
            sql: """
                UPDATE jobs SET blob_key = ?, output_format = ?, width = ?, height = ?, text = ?, engine = ?,
                inference_time = ?, usage = ? WHERE id = ?
                """,
            arguments: [
                output.blobKey, output.format.rawValue, output.width, output.height, output.text, output.engine,
                output.inferenceTime, output.usage.stored, jobID,
            ])
        try db.cachedExecute(
            sql: "INSERT OR REPLACE INTO blobs (key, bytes) VALUES (?, ?)", arguments: [output.blobKey, Data(image)])
        return true
    }

    public func fail(jobID: String, worker: String, error: String, code: FailureCode) async throws -> Bool {
        try await transition(jobID: jobID, event: .fail(worker: worker, error: error, code: code))
    }

    public func release(jobID: String, worker: String) async throws -> Bool {
        try await transition(jobID: jobID, event: .release(worker: worker))
    }

    public func cancelQueued(jobID: String, error: String) async throws -> Bool {
        try await transition(jobID: jobID, event: .cancel(error: error))
    }

    public func expireAllLeases() async throws -> Int {
        defer { leaseSweep.reset() }
        return try pool.writeNow { db in
            try db.cachedExecute(sql: "UPDATE jobs SET lease_expires_at = 0 WHERE status = 'PROCESSING'")
            return db.changesCount
        }
    }

    public func job(id: String) async throws -> JobRecord? {
        try pool.readNow { db in try Self.fetch(db, id: id) }
    }

    public func queuePosition(of job: JobRecord) async throws -> Int? {
        guard job.status == .queued else { return nil }
        return try pool.readNow { db in
            let ahead =
                try db.cachedValue(
                    Int.self, sql: "SELECT COUNT(*) FROM jobs WHERE status = 'QUEUED' AND seq < ?",
                    arguments: [job.sequence]) ?? 0
            return ahead + 1
        }
    }

    public func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord] {
        try pool.writeNow { db in
            let jobs = try db.records(
                JobRecord.init(columns:),
                sql:
                    "SELECT \(JobRecord.columns) FROM jobs WHERE completed_at IS NOT NULL AND completed_at < ? ORDER BY completed_at LIMIT ?",
                arguments: [cutoff.timeIntervalSince1970, limit])
            for job in jobs {
                try db.cachedExecute(sql: "DELETE FROM jobs WHERE id = ?", arguments: [job.id])
                if let key = job.output?.blobKey {
                    try db.cachedExecute(sql: "DELETE FROM blobs WHERE key = ?", arguments: [key])
                }
                if job.webhooks != nil { try SQLiteOutbox.deleteFinishedEvents(jobID: job.id, in: db) }
            }
            try SQLiteOutbox.deleteOrphans(in: db)
            return jobs
        }
    }

    public func foldLedger(before cutoff: Date) async throws -> Int {
        let fold = LedgerFold(cutoff: cutoff)
        return try await pool.write { db in
            var folded = 0
            for keyID in try Self.keysWithOldLines(db, cutoff: cutoff) {
                folded += try SQLiteRules.fold(fold, keyID: keyID, in: db)
            }
            return folded
        }
    }

    private static func keysWithOldLines(_ db: Database, cutoff: Date) throws -> [String] {
        try db.records(
            { try $0.string(0) },
            sql: "SELECT DISTINCT key_id FROM credit_ledger WHERE created_at < ? AND kind <> 'summary'",
            arguments: [cutoff.timeIntervalSince1970])
    }

    /// Pages given back per step, and steps per call: a step holds the write lock for as
    /// long as it moves its pages, so submissions wait at most that long; what one call
    /// leaves, the next sweep takes.
    static let vacuumStep = 2048
    static let vacuumSteps = 16

    public func reclaimSpace() async throws -> Int {
        var reclaimed = 0
        for _ in 0..<Self.vacuumSteps {
            let step = try await pool.writeWithoutTransaction { db -> Int in
                let free = try db.cachedValue(Int.self, sql: "PRAGMA freelist_count") ?? 0
                guard free > 0 else { return 0 }
                let pageSize = try db.cachedValue(Int.self, sql: "PRAGMA page_size") ?? 4096
                try db.execute(sql: "PRAGMA incremental_vacuum(\(Self.vacuumStep))")
                let left = try db.cachedValue(Int.self, sql: "PRAGMA freelist_count") ?? 0
                return (free - left) * pageSize
            }
            guard step > 0 else { break }
            reclaimed += step
        }
        return reclaimed
    }

    public func image(key: String) async throws -> [UInt8]? {
        try pool.readNow { db in
            try db.cachedValue(Data.self, sql: "SELECT bytes FROM blobs WHERE key = ?", arguments: [key]).map {
                [UInt8]($0)
            }
        }
    }

    public func counts() async throws -> [JobStatus: Int] {
        try await pool.read { db in
            var counts: [JobStatus: Int] = [:]
            for row in try db.cachedRows(sql: "SELECT status, COUNT(*) AS n FROM jobs GROUP BY status") {
                let columns = SQLiteColumns(row)
                if let status = JobStatus(rawValue: try columns.string(0)) { counts[status] = try columns.int(1) }
            }
            return counts
        }
    }

    // MARK: - Transitions

    private func transition(jobID: String, event: JobState.Event) async throws -> Bool {
        let now = clock.now()
        return try pool.writeNow { db in
            guard var job = try Self.fetch(db, id: jobID) else { return false }
            let previous = job.status
            do { try job.state.apply(event) } catch { return false }
            try Self.writeState(db, job: job, from: previous, completedAt: job.status.isTerminal ? now : nil)
            return true
        }
    }

    /// Returns jobs whose lease ran out to the queue, or fails them past their attempts;
    /// returns them as they are now.
    private static func expireLeases(_ db: Database, now: Date) throws -> [JobRecord] {
        let expired = try db.records(
            JobRecord.init(columns:),
            sql: """
                SELECT \(JobRecord.columns) FROM jobs WHERE status = 'PROCESSING' AND lease_expires_at <= ?
                ORDER BY lease_expires_at LIMIT ?
                """,
            arguments: [now.timeIntervalSince1970, LeaseSweep.batch])
        return try expired.map { job in
            var job = job
            try job.state.apply(.leaseExpired(now: now))
            try writeState(db, job: job, from: .processing, completedAt: job.status == .failed ? now : nil)
            return job
        }
    }

    /// Withdraws the key's QUEUED jobs (its key was revoked or disabled): each FAILS with
    /// `error`, is refunded and loses its parameters, in the caller's transaction. Jobs a
    /// worker already runs may finish. Returns the withdrawn jobs, to be logged once committed.
    static func cancelQueued(_ db: Database, keyID: String, error: String, now: Date) throws -> [JobRecord] {
        // The IN term repeats the partial index's condition word for word: SQLite uses a
        // partial index only when the query states its WHERE clause (`status = 'QUEUED'`
        // alone would scan).
        let queued = try db.records(
            JobRecord.init(columns:),
            sql: """
                SELECT \(JobRecord.columns) FROM jobs WHERE key_id = ? AND status IN ('QUEUED', 'PROCESSING')
                AND status = 'QUEUED'
                """,
            arguments: [keyID])
        return try queued.map { job in
            var job = job
            try job.state.apply(.cancel(error: error))
            try writeState(db, job: job, from: .queued, completedAt: now)
            return job
        }
    }

    static func fetch(_ db: Database, id: String) throws -> JobRecord? {
        try db.records(
            JobRecord.init(columns:), sql: "SELECT \(JobRecord.columns) FROM jobs WHERE id = ?", arguments: [id]
        )
        .first
    }

    /// Writes the job's new state (changed from `previous`), with what goes with it in the
    /// same transaction: a finished job's parameters dropped and credits settled, and the
    /// webhook events of the change (``WebhookPlan``).
    private static func writeState(
        _ db: Database, job: JobRecord, from previous: JobStatus, startedAt: Date? = nil, completedAt: Date? = nil
    )
        throws
    {
        let state = job.state
        let events = WebhookPlan.events(for: job, from: previous, now: completedAt ?? startedAt ?? Date())
        if !events.isEmpty { try SQLiteOutbox.insert(events, in: db) }
        try db.cachedExecute(
            sql: """
                UPDATE jobs SET status = ?, attempts = ?, worker_id = ?, lease_expires_at = ?, error = ?, error_code = ?,
                started_at = COALESCE(?, started_at), completed_at = COALESCE(?, completed_at) WHERE id = ?
                """,
            arguments: [
                state.status.rawValue, state.attempts, state.workerID, state.leaseExpiresAt?.timeIntervalSince1970,
                state.error, state.failureCode?.rawValue, startedAt?.timeIntervalSince1970,
                completedAt?.timeIntervalSince1970, job.id,
            ])
        if state.status.isTerminal {
            // Parameters may hold large inline images; a finished job no longer needs them.
            try db.cachedExecute(sql: "DELETE FROM job_parameters WHERE id = ?", arguments: [job.id])
            if let closing = CreditPolicy.closing(job) {
                try SQLiteRules.apply(closing, keyID: job.keyID, now: completedAt ?? Date(), in: db)
            }
        }
    }
}
