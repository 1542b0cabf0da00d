import Foundation

/// Whether a submission may enter the queue under its ``SubmitLimits``, decided without
/// I/O: the global queue length, the key's jobs in flight, the bytes of the key's QUEUED
/// jobs, and the key's token bucket, kept in its row so that the limits hold across every
/// process sharing the store. 0 means no limit.
///
/// A store reads the facts the admission asks for (``queueLimit``, ``inFlightLimit``,
/// ``queuedBytesLimit``, ``usesBucket``), inside the enqueue transaction and with the key's row locked first
/// where the store can, then calls ``decide(_:)`` and writes the bucket it returns.
struct SubmitAdmission: Sendable {
    /// What the store read.
    struct Facts: Sendable {
        /// QUEUED jobs, counted up to the limit when ``queueCountLimit(span:)`` asks for it.
        var queued = 0
        /// The key's QUEUED and PROCESSING jobs, counted up to ``inFlightLimit``.
        var inFlight = 0
        /// The bytes of the parameters of the key's QUEUED jobs, when ``queuedBytesLimit``
        /// asks for them.
        var queuedBytes = 0
        /// The key's bucket as stored; `nil` when it has none yet (a full one).
        var bucket: TokenBucket?
    }

    let limits: SubmitLimits
    let now: Date
    /// The bytes of the submission's own parameters.
    var bytes = 0

    /// The queue length to check against, if any.
    var queueLimit: Int? { limits.maxQueueLength > 0 ? limits.maxQueueLength : nil }
    /// The key's in-flight cap, if any.
    var inFlightLimit: Int? { limits.maxInFlight > 0 ? limits.maxInFlight : nil }
    /// The cap on the bytes of the key's QUEUED jobs, if any.
    var queuedBytesLimit: Int? { limits.maxQueuedBytes > 0 ? limits.maxQueuedBytes : nil }
    /// The limit to count QUEUED jobs up to, given the span of sequence numbers from the
    /// oldest QUEUED job to the newest job (`nil` when none is QUEUED). The span bounds the
    /// count from above for two index lookups, so only a span that reaches the limit is
    /// worth counting; `nil`: no count needed.
    func queueCountLimit(span: Int64?) -> Int? {
        guard let limit = queueLimit, let span, span >= Int64(limit) else { return nil }
        return limit
    }

    /// Whether the key's rate is limited (its bucket is read and written).
    var usesBucket: Bool { limits.perMinute > 0 }
    /// Whether anything of the key's own is checked (its row is then locked first).
    var checksKey: Bool { usesBucket || inFlightLimit != nil || queuedBytesLimit != nil }

    /// Admits (returning the key's bucket to store, when it has one) or refuses.
    func decide(_ facts: Facts) throws(RateLimited) -> TokenBucket? {
        if let limit = queueLimit, facts.queued >= limit {
            throw RateLimited(limit: .queueLength, value: limit, retryAfter: 5)
        }
        if let limit = inFlightLimit, facts.inFlight >= limit {
            throw RateLimited(limit: .inFlight, value: limit, retryAfter: 1)
        }
        // The submission's own bytes count: the key's queue may never hold more than the limit.
        if let limit = queuedBytesLimit, facts.queuedBytes + bytes > limit {
            throw RateLimited(limit: .queuedBytes, value: limit, retryAfter: 5)
        }
        guard usesBucket else { return nil }
        var bucket = facts.bucket ?? .full(burst: limits.burst, at: now)
        if let wait = bucket.take(now: now, perMinute: limits.perMinute, burst: limits.burst) {
            throw RateLimited(limit: .requestsPerMinute, value: limits.perMinute, retryAfter: wait)
        }
        return bucket
    }
}
