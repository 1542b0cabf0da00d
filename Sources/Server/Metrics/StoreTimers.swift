import CoreMetrics
import Metrics
import Store

/// The store operations that are timed, one label value each.
enum StoreOperation: String, CaseIterable, Sendable {
    // Jobs
    case job, queuePosition = "queue_position", image, claim, renewLease = "renew_lease", complete
    case completeAndClaim = "complete_and_claim", fail, release, enqueue, cancelQueued = "cancel_queued"
    case expireAllLeases = "expire_all_leases", deleteFinished = "delete_finished", foldLedger = "fold_ledger"
    case reclaimSpace = "reclaim_space", counts, deleteIdempotencyKeys = "delete_idempotency_keys"
    // Keys
    case authenticate, createKey = "create_key", createFirstKey = "create_first_key", updateKey = "update_key"
    case topUp = "top_up", revokeKey = "revoke_key", showKey = "show_key", listKeys = "list_keys", balance
}

/// A timer and an unavailability counter per store operation, made once: timing an
/// operation takes no lock but the histogram's own.
struct StoreTimers: Sendable {
    private struct Instruments: Sendable {
        let duration: CoreMetrics.Timer
        let unavailable: Counter
    }

    private let instruments: [StoreOperation: Instruments]

    /// - Parameter store: the label of the store's kind (`sqlite`, `postgres`).
    init(store: String, factory: any MetricsFactory) {
        instruments = Dictionary(
            uniqueKeysWithValues: StoreOperation.allCases.map { operation in
                let labels = [("store", store), ("operation", operation.rawValue)]
                return (
                    operation,
                    Instruments(
                        duration: CoreMetrics.Timer(
                            label: MetricName.storeDuration, dimensions: labels, factory: factory),
                        unavailable: Counter(label: MetricName.storeUnavailable, dimensions: labels, factory: factory))
                )
            })
    }

    /// Runs `body`, timing it whether it returns or throws, and counting a
    /// ``StoreUnavailable``.
    func measure<T>(_ operation: StoreOperation, _ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        let instruments = instruments[operation]
        do {
            let value = try await body()
            instruments?.duration.record(duration: .now - start)
            return value
        } catch {
            instruments?.duration.record(duration: .now - start)
            if error is StoreUnavailable { instruments?.unavailable.increment() }
            throw error
        }
    }
}
