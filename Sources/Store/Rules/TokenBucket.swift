import Foundation

/// A token bucket as a value: `burst` tokens at most, refilled at `perMinute / 60` a second.
/// The store keeps one per key in its rows, so the limit holds across every process on it.
public struct TokenBucket: Sendable, Equatable {
    public var tokens: Double
    public var updatedAt: Date

    public init(tokens: Double, updatedAt: Date) {
        self.tokens = tokens
        self.updatedAt = updatedAt
    }

    /// A full bucket.
    public static func full(burst: Int, at now: Date) -> TokenBucket {
        TokenBucket(tokens: Double(burst), updatedAt: now)
    }

    /// Takes one token, or says how many seconds until one is there.
    public mutating func take(now: Date, perMinute: Int, burst: Int) -> TimeInterval? {
        let rate = Double(max(perMinute, 1)) / 60
        let elapsed = max(0, now.timeIntervalSince(updatedAt))
        tokens = min(Double(max(burst, 1)), tokens + elapsed * rate)
        updatedAt = now
        guard tokens >= 1 else { return (1 - tokens) / rate }
        tokens -= 1
        return nil
    }
}

/// Limits one submission must pass.
public struct SubmitLimits: Sendable, Equatable {
    /// Requests per minute for the key, and the burst above that rate.
    public var perMinute: Int
    public var burst: Int
    /// QUEUED + PROCESSING jobs the key may have at once.
    public var maxInFlight: Int
    /// QUEUED jobs the whole server accepts (backpressure).
    public var maxQueueLength: Int
    /// Bytes of parameters (inline reference images included) the key's QUEUED jobs may
    /// hold together.
    public var maxQueuedBytes: Int

    public init(perMinute: Int, burst: Int, maxInFlight: Int, maxQueueLength: Int, maxQueuedBytes: Int = 0) {
        self.perMinute = perMinute
        self.burst = burst
        self.maxInFlight = maxInFlight
        self.maxQueueLength = maxQueueLength
        self.maxQueuedBytes = maxQueuedBytes
    }
}

/// A submission refused by a limit: HTTP 429.
public struct RateLimited: Error, Sendable, Equatable {
    public enum Limit: String, Sendable, Equatable {
        case requestsPerMinute = "requests per minute"
        case inFlight = "requests in flight"
        case queueLength = "queue length"
        case queuedBytes = "queued bytes per key"
    }

    public let limit: Limit
    /// The limit's value.
    public let value: Int
    /// Seconds until trying again may succeed.
    public let retryAfter: TimeInterval
}
