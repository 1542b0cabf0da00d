import Foundation
import Synchronization

/// How a store looks for jobs whose lease ran out (their worker is presumed dead): during a
/// claim, at most every ``interval`` per store instance, at most ``batch`` jobs at a time,
/// oldest leases first. Each expired job then takes ``JobState``'s `.leaseExpired` event.
final class LeaseSweep: Sendable {
    /// Seconds between two sweeps of one store instance.
    static let interval: TimeInterval = 0.25
    /// Jobs expired by one sweep; the next sweep takes the rest.
    static let batch = 100

    private let last = Mutex<Date>(.distantPast)

    init() {}

    /// Whether a claim at `now` should sweep first (and, if so, notes that it did).
    func due(now: Date) -> Bool {
        last.withLock { last in
            guard now.timeIntervalSince(last) >= Self.interval || now < last else { return false }
            last = now
            return true
        }
    }

    /// The next claim sweeps, whenever it comes (after every lease was ended at once).
    func reset() {
        last.withLock { $0 = .distantPast }
    }
}
