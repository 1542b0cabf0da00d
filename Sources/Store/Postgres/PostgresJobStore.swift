import Foundation
import Logging
import NIOCore
import NanoBananaAPI
import PostgresNIO
import Synchronization

/// The cluster ``JobStore``: jobs, their parameters and their images in PostgreSQL, shared
/// by any number of API and worker nodes.
///
/// Workers claim with `SELECT … FOR UPDATE SKIP LOCKED`, so two workers never take the same
/// job and none waits for another's lock; the claim is one statement that mirrors
/// ``JobState``'s claim and is checked against it. Every other transition locks its row,
/// applies the ``JobState`` event in Swift and writes the state back, in one transaction
/// with what goes with it (the image, the credit settlement). Each new and each finished
/// job is announced on the deployment's channel (``PostgresEvents``) in the same transaction.
public final class PostgresJobStore: JobStore {
    let database: PostgresDatabase
    let clock: any WallClock
    let logger: Logger
    private let leaseSweep = LeaseSweep()

    public init(database: PostgresDatabase, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.clock = clock
        self.logger = database.logger
    }

    private var channel: String { database.channel }

    public func enqueue(_ job: NewJob, idempotency: IdempotentSubmit?) async throws -> Enqueued {
        let now = clock.now()
        let logger = logger
        let channel = channel
        let admission = job.limits.map { SubmitAdmission(limits: $0, now: now, bytes: job.parameterBytes) }
        let reservation = CreditPolicy.reservation(for: job)
        let insert: PostgresQuery = """
            WITH job AS (
                INSERT INTO jobs (
                    id, key_id, model, seed, status, max_attempts, created_at, cost, parameter_bytes, http_request_id,
                    webhooks, request_body)
                VALUES (\(job.id), \(job.keyID), \(job.model), \(job.seed), 'QUEUED', \(job.maxAttempts), \
            \(now.timeIntervalSince1970), \(job.cost), \(job.parameterBytes), \(job.httpRequestID), \(job.webhooks?.stored), \
            \(job.requestBody))
                RETURNING seq
            ), parameters AS (
                INSERT INTO job_parameters (id, parameters) VALUES (\(job.id), \(job.parameters))
            )
            SELECT seq, pg_notify(\(channel), \(PostgresEvents.queuedPayload)) FROM job
            """
        let body: @Sendable (PostgresConnection) async throws -> Enqueued = { [self] connection in
            // The idempotency key's record first, the API key's row (admission) after it: every
            // submission takes the two locks in this order.
            if let idempotency,
                let earlier = try await claimIdempotencyKey(idempotency, for: job, now: now, on: connection)
            {
                return Enqueued(job: earlier, replayed: true)
            }
            if let admission {
                try await PostgresRules.admit(admission, keyID: job.keyID, on: connection, logger: logger)
            }
            if let reservation {
                try await PostgresRules.require(reservation, keyID: job.keyID, now: now, on: connection, logger: logger)
            }
            guard let sequence = try await connection.value(Int64.self, insert, logger: logger) else {
                throw StoreUnavailable(reason: "the insert returned no row")
            }
            let record = JobRecord(
                sequence: sequence, id: job.id, keyID: job.keyID, model: job.model, seed: job.seed, cost: job.cost,
                state: JobState(maxAttempts: job.maxAttempts), createdAt: now, httpRequestID: job.httpRequestID,
                webhooks: job.webhooks)
            return Enqueued(job: record, replayed: false)
        }
        // A lone insert is atomic on its own; a key's limits, credits and idempotency keys
        // need a transaction.
        return idempotency != nil || admission?.checksKey == true || reservation != nil
            ? try await database.withTransaction(body) : try await database.withConnection(body)
    }

    public func claim(worker: String, lease: TimeInterval) async throws -> ClaimedJob? {
        let now = clock.now()
        let sweep = leaseSweep.due(now: now)
        let (claimed, changed) = try await database.withTransaction { [self] connection in
            let expired: [JobRecord] = try await sweep ? expireLeases(connection, now: now) : []
            let (claimed, withdrawn) = try await claimNext(connection, worker: worker, lease: lease, now: now)
            return (claimed, expired + withdrawn)
        }
        logger.logStoreChanges(changed)
        return claimed
    }

    public func renewLease(jobID: String, worker: String, lease: TimeInterval) async throws -> Bool {
        let until = clock.now().addingTimeInterval(lease)
        return try await transition(jobID: jobID, event: .renew(worker: worker, leaseUntil: until))
    }

    public func complete(jobID: String, worker: String, output: JobOutput, image: [UInt8]) async throws -> Bool {
        let now = clock.now()
        return try await database.withTransaction { [self] connection in
            try await complete(connection, jobID: jobID, worker: worker, output: output, image: image, now: now)
        }
    }

    public func complete(
        jobID: String, worker: String, output: JobOutput, image: [UInt8], claimingNextFor lease: TimeInterval
    ) async throws -> (completed: Bool, next: ClaimedJob?) {
        let now = clock.now()
        let sweep = leaseSweep.due(now: now)
        let (completed, next, changed) = try await database.withTransaction { [self] connection in
            let completed = try await complete(
                connection, jobID: jobID, worker: worker, output: output, image: image, now: now)
            let expired: [JobRecord] = try await sweep ? expireLeases(connection, now: now) : []
            let (next, withdrawn) = try await claimNext(connection, worker: worker, lease: lease, now: now)
            return (completed, next, expired + withdrawn)
        }
        logger.logStoreChanges(changed)
        return (completed, next)
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

    /// Ends every lease at once. Only for a store one node uses: in a cluster, the other
    /// nodes' running jobs would be taken from them. `nano-banana` never calls it on PostgreSQL.
    public func expireAllLeases() async throws -> Int {
        let logger = logger
        defer { leaseSweep.reset() }
        return try await database.withConnection { connection in
            try await connection.value(
                Int.self,
                """
                WITH expired AS (
                    UPDATE jobs SET lease_expires_at = 0 WHERE status = 'PROCESSING' RETURNING 1
                ) SELECT count(*) FROM expired
                """, logger: logger) ?? 0
        }
    }

    public func job(id: String) async throws -> JobRecord? {
        try await database.withConnection { [self] connection in try await job(id: id, on: connection) }
    }

    /// The job, unlocked, in the caller's connection (and transaction).
    func job(id: String, on connection: PostgresConnection) async throws -> JobRecord? {
        try await connection.records(
            JobRecord.init(columns:), "SELECT \(unescaped: JobRecord.columns) FROM jobs WHERE id = \(id)",
            logger: logger
        ).first
    }

    public func queuePosition(of job: JobRecord) async throws -> Int? {
        guard job.status == .queued else { return nil }
        let logger = logger
        return try await database.withConnection { connection in
            let ahead =
                try await connection.value(
                    Int.self, "SELECT count(*) FROM jobs WHERE status = 'QUEUED' AND seq < \(job.sequence)",
                    logger: logger) ?? 0
            return ahead + 1
        }
    }

    /// Deletes expired jobs and their images in one statement. Rows another node is
    /// deleting at the same moment are skipped, so each expiry is swept exactly once
    /// across the cluster.
    public func deleteFinished(before cutoff: Date, limit: Int) async throws -> [JobRecord] {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                JobRecord.init(columns:),
                """
                WITH doomed AS (
                    SELECT id FROM jobs WHERE completed_at IS NOT NULL AND completed_at < \(cutoff.timeIntervalSince1970)
                    ORDER BY completed_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id RETURNING jobs.*
                ), images AS (
                    DELETE FROM blobs USING gone WHERE blobs.key = gone.blob_key
                ), parameters AS (
                    DELETE FROM job_parameters USING gone WHERE job_parameters.id = gone.id
                ), events AS (
                    DELETE FROM webhook_events USING gone
                    WHERE webhook_events.job_id = gone.id AND webhook_events.state <> 'PENDING'
                ), orphans AS (
                    DELETE FROM webhook_events WHERE state <> 'PENDING'
                    AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = webhook_events.job_id)
                )
                SELECT \(unescaped: JobRecord.columns) FROM gone
                """, logger: logger)
        }
    }

    /// Folds each key's old ledger lines in a transaction of its own, with the key's row
    /// locked, so that two nodes sweeping at once take turns per key.
    public func foldLedger(before cutoff: Date) async throws -> Int {
        let logger = logger
        let fold = LedgerFold(cutoff: cutoff)
        let keys = try await database.withConnection { connection in
            try await connection.records(
                { try $0.string(0) },
                """
                SELECT DISTINCT key_id FROM credit_ledger
                WHERE created_at < \(cutoff.timeIntervalSince1970) AND kind <> 'summary'
                """, logger: logger)
        }
        var folded = 0
        for keyID in keys {
            folded += try await database.withTransaction { connection in
                try await connection.run("SELECT 1 FROM api_keys WHERE id = \(keyID) FOR UPDATE", logger: logger)
                return try await PostgresRules.fold(fold, keyID: keyID, on: connection, logger: logger)
            }
        }
        return folded
    }

    /// PostgreSQL's autovacuum gives deleted rows' space back for reuse on its own.
    public func reclaimSpace() async throws -> Int { 0 }

    public func image(key: String) async throws -> [UInt8]? {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.value(ByteBuffer.self, "SELECT bytes FROM blobs WHERE key = \(key)", logger: logger)
                .map { Array($0.readableBytesView) }
        }
    }

    public func counts() async throws -> [JobStatus: Int] {
        let logger = logger
        return try await database.withConnection { connection in
            var counts: [JobStatus: Int] = [:]
            for row in try await connection.rows("SELECT status, count(*) FROM jobs GROUP BY status", logger: logger) {
                let (status, count) = try row.decode((String, Int).self)
                if let status = JobStatus(rawValue: status) { counts[status] = count }
            }
            return counts
        }
    }

    // MARK: - Steps inside a transaction

    /// Returns jobs whose lease ran out to the queue, or fails them past their attempts;
    /// returns them as they are now.
    private func expireLeases(_ connection: PostgresConnection, now: Date) async throws -> [JobRecord] {
        let expired = try await connection.records(
            JobRecord.init(columns:),
            """
            SELECT \(unescaped: JobRecord.columns) FROM jobs
            WHERE status = 'PROCESSING' AND lease_expires_at <= \(now.timeIntervalSince1970)
            ORDER BY lease_expires_at LIMIT \(LeaseSweep.batch) FOR UPDATE SKIP LOCKED
            """, logger: logger)
        var changed: [JobRecord] = []
        for var job in expired {
            try job.state.apply(.leaseExpired(now: now))
            try await writeState(
                connection, job: job, from: .processing, completedAt: job.status == .failed ? now : nil)
            changed.append(job)
        }
        return changed
    }

    /// Takes the oldest QUEUED job in one statement: the busiest query of a cluster, so the
    /// row is found, locked and updated in one round trip. The statement returns the job's
    /// state before and after; ``JobState`` applies its `.claim` event to the state before,
    /// and unless that gives exactly the state the statement wrote, the claim is refused
    /// (``JobStateDisagreement``) and its transaction rolls back. The state machine stays
    /// the judge of every claim, in release builds too. Also returns the jobs withdrawn on
    /// the way (their key lost its standing, ``KeyStanding``).
    private func claimNext(
        _ connection: PostgresConnection, worker: String, lease: TimeInterval, now: Date
    )
        async throws -> (ClaimedJob?, withdrawn: [JobRecord])
    {
        let until = Date(timeIntervalSince1970: now.addingTimeInterval(lease).timeIntervalSince1970)
        var withdrawn: [JobRecord] = []
        while true {
            switch try await claimOne(connection, worker: worker, until: until, now: now) {
            case .noneQueued: return (nil, withdrawn)
            case .claimed(let job): return (job, withdrawn)
            case .withdrawn(let job): withdrawn.append(job)
            }
        }
    }

    /// What one claim statement did.
    private enum ClaimStep {
        /// No job is queued.
        case noneQueued
        case claimed(ClaimedJob)
        /// The job taken was withdrawn instead (its key lost its standing, ``KeyStanding``).
        case withdrawn(JobRecord)
    }

    private func claimOne(
        _ connection: PostgresConnection, worker: String, until: Date, now: Date
    ) async throws -> ClaimStep {
        guard
            let row = try await connection.rows(
                """
                WITH next AS (
                    SELECT id, status, attempts, worker_id, lease_expires_at FROM jobs
                    WHERE status = 'QUEUED' ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs SET status = 'PROCESSING', attempts = jobs.attempts + 1, worker_id = \(worker),
                lease_expires_at = \(until.timeIntervalSince1970), started_at = \(now.timeIntervalSince1970)
                FROM next WHERE jobs.id = next.id
                RETURNING \(unescaped: JobRecord.qualifiedColumns),
                (SELECT parameters FROM job_parameters WHERE job_parameters.id = jobs.id),
                next.status, next.attempts, next.worker_id, next.lease_expires_at, \(unescaped: KeyStanding.columns)
                """, logger: logger
            ).first
        else { return .noneQueued }
        let columns = PostgresColumns(row)
        let job = try JobRecord(columns: columns)
        // After the job's columns: its parameters, its state before, its key's standing.
        let extra = JobRecord.columnCount
        var before = job.state
        before.status = JobStatus(rawValue: try columns.string(extra + 1)) ?? .failed
        before.attempts = try columns.int(extra + 2)
        before.workerID = try columns.optionalString(extra + 3)
        before.leaseExpiresAt = try columns.optionalDate(extra + 4)
        let event = try KeyStanding(columns: columns, at: extra + 5).event(worker: worker, leaseUntil: until)
        try before.apply(event)
        if case .cancel = event {
            var withdrawn = job
            withdrawn.state = before
            try await writeState(connection, job: withdrawn, from: .queued, completedAt: now)
            return .withdrawn(withdrawn)
        }
        guard before == job.state else {
            throw JobStateDisagreement(jobID: job.id, expected: before, written: job.state)
        }
        // The claim statement bypasses writeState: its webhook events (a first claim's
        // `processing`, for a job that has targets) go in a second statement.
        try await jobWrites.insert(WebhookPlan.events(for: job, from: .queued, now: now), on: connection)
        return .claimed(ClaimedJob(record: job, parameters: try columns.optionalString(extra) ?? "{}"))
    }

    private func complete(
        _ connection: PostgresConnection, jobID: String, worker: String, output: JobOutput, image: [UInt8], now: Date
    ) async throws -> Bool {
        guard var job = try await lockedJob(connection, id: jobID) else { return false }
        do { try job.state.apply(.complete(worker: worker)) } catch { return false }
        try await writeState(connection, job: job, from: .processing, completedAt: now, output: (output, image))
        return true
    }

    private func transition(jobID: String, event: JobState.Event) async throws -> Bool {
        let now = clock.now()
        return try await database.withTransaction { [self] connection in
            guard var job = try await lockedJob(connection, id: jobID) else { return false }
            let previous = job.status
            do { try job.state.apply(event) } catch { return false }
            try await writeState(connection, job: job, from: previous, completedAt: job.status.isTerminal ? now : nil)
            return true
        }
    }

    private func lockedJob(_ connection: PostgresConnection, id: String) async throws -> JobRecord? {
        try await connection.records(
            JobRecord.init(columns:), "SELECT \(unescaped: JobRecord.columns) FROM jobs WHERE id = \(id) FOR UPDATE",
            logger: logger
        ).first
    }

    private var jobWrites: PostgresJobWrites { PostgresJobWrites(channel: channel, logger: logger) }

    private func writeState(
        _ connection: PostgresConnection, job: JobRecord, from previous: JobStatus, startedAt: Date? = nil,
        completedAt: Date? = nil, output: (JobOutput, [UInt8])? = nil
    ) async throws {
        try await jobWrites.writeState(
            connection, job: job, from: previous, startedAt: startedAt, completedAt: completedAt, output: output)
    }
}
