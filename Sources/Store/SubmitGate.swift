import Foundation
import GRDB

/// Applies a submission's ``SubmitLimits`` inside the enqueue transaction: the global queue
/// length, the key's jobs in flight, and the key's token bucket, kept in its row so that
/// the limits hold across every process sharing the store. 0 means no limit.
enum SubmitGate {
    static func admit(_ db: Database, keyID: String, limits: SubmitLimits, now: Date) throws {
        let perMinute = limits.perMinute
        let burst = limits.burst
        let maxInFlight = limits.maxInFlight
        if limits.maxQueueLength > 0, try queueLength(db, atLeast: limits.maxQueueLength) {
            throw RateLimited(limit: .queueLength, value: limits.maxQueueLength, retryAfter: 5)
        }
        if maxInFlight > 0 {
            let inFlight =
                try db.cachedValue(
                    Int.self, sql: "SELECT COUNT(*) FROM jobs WHERE key_id = ? AND status IN ('QUEUED', 'PROCESSING')",
                    arguments: [keyID]) ?? 0
            if inFlight >= maxInFlight {
                throw RateLimited(limit: .inFlight, value: maxInFlight, retryAfter: 1)
            }
        }
        guard perMinute > 0,
            let row = try db.cachedRow(
                sql: "SELECT bucket_tokens, bucket_updated_at FROM api_keys WHERE id = ?", arguments: [keyID])
        else { return }
        let tokens: Double? = row[0]
        let updated: Double? = row[1]
        var bucket =
            tokens.flatMap { tokens in
                updated.map { TokenBucket(tokens: tokens, updatedAt: Date(timeIntervalSince1970: $0)) }
            }
            ?? .full(burst: burst, at: now)
        if let wait = bucket.take(now: now, perMinute: perMinute, burst: burst) {
            throw RateLimited(limit: .requestsPerMinute, value: perMinute, retryAfter: wait)
        }
        try db.cachedExecute(
            sql: "UPDATE api_keys SET bucket_tokens = ?, bucket_updated_at = ? WHERE id = ?",
            arguments: [bucket.tokens, bucket.updatedAt.timeIntervalSince1970, keyID])
    }

    /// Whether at least `limit` jobs are QUEUED. The span of sequence numbers from the oldest
    /// QUEUED job to the newest job bounds the count from above and costs two index lookups;
    /// only when that span reaches the limit are the QUEUED jobs counted (up to the limit).
    private static func queueLength(_ db: Database, atLeast limit: Int) throws -> Bool {
        guard let oldest = try db.cachedValue(Int64.self, sql: "SELECT MIN(seq) FROM jobs WHERE status = 'QUEUED'"),
            let newest = try db.cachedValue(Int64.self, sql: "SELECT MAX(seq) FROM jobs")
        else { return false }
        guard newest - oldest + 1 >= Int64(limit) else { return false }
        let queued =
            try db.cachedValue(
                Int.self, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE status = 'QUEUED' LIMIT ?)",
                arguments: [limit]) ?? 0
        return queued >= limit
    }
}
