import Foundation

/// When a webhook delivery is tried again, decided with no I/O: a 2xx answer delivers the
/// event, `410 Gone` stops it, and anything else (another status, a timeout, a connection
/// error, a refused address) is retried after the next delay of the schedule, with jitter,
/// until the schedule runs out.
public struct WebhookRetryPolicy: Sendable, Equatable {
    /// Seconds to wait after the first failed attempt, the second, …: one more attempt than
    /// delays in all. Default 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (27 h 35 min).
    public var schedule: [TimeInterval]
    /// Each delay is moved by up to this fraction either way, so that receivers that were
    /// down together are not all retried at the same instant. Default 0.2.
    public var jitter: Double
    /// Seconds one attempt may take, connecting included. Default 10.
    public var timeout: TimeInterval

    public static let defaultSchedule: [TimeInterval] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000]

    public init(
        schedule: [TimeInterval] = Self.defaultSchedule, jitter: Double = 0.2, timeout: TimeInterval = 10
    ) {
        self.schedule = schedule
        self.jitter = jitter
        self.timeout = timeout
    }

    /// What an attempt's answer means for its event.
    public enum Decision: Sendable, Equatable {
        case delivered
        /// The receiver answered 410 Gone: no more attempts.
        case gone
        case retry(after: TimeInterval)
        /// The last attempt of the schedule failed.
        case exhausted

        /// The decision without its delay: a metric's label, a log line's field.
        public var outcome: Outcome {
            switch self {
            case .delivered: .delivered
            case .gone: .gone
            case .retry: .retry
            case .exhausted: .exhausted
            }
        }
    }

    /// The kinds of ``Decision``.
    public enum Outcome: String, Sendable, CaseIterable {
        case delivered, gone, retry, exhausted
    }

    /// The decision after attempt `attempt` (1 for the first) got `statusCode` (`nil`: no
    /// answer). `random` in 0…1 places the jitter (0.5: none).
    public func decide(attempt: Int, statusCode: Int?, random: Double = .random(in: 0...1)) -> Decision {
        if let statusCode, (200..<300).contains(statusCode) { return .delivered }
        if statusCode == 410 { return .gone }
        guard attempt >= 1, attempt <= schedule.count else { return .exhausted }
        let delay = schedule[attempt - 1]
        return .retry(after: max(0, delay * (1 + jitter * (2 * min(max(random, 0), 1) - 1))))
    }

    /// Parses a schedule written `5s,5m,30m,2h` (units s, m, h, d; a bare number is
    /// seconds); `nil` when an entry is not a positive duration or there is none.
    public static func parseSchedule(_ text: String) -> [TimeInterval]? {
        let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        }
        guard !entries.isEmpty, entries.count <= 50 else { return nil }
        var delays: [TimeInterval] = []
        for entry in entries {
            var number = Substring(entry)
            var unit: TimeInterval = 1
            if let last = entry.last, let factor = units[last] {
                unit = factor
                number = number.dropLast()
            }
            guard let value = TimeInterval(number), value.isFinite, value > 0, value * unit <= 30 * 86_400 else {
                return nil
            }
            delays.append(value * unit)
        }
        return delays
    }
}
