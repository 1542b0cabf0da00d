import Foundation
import Logging
import ServiceLifecycle
import Store

/// Deletes finished jobs and their images once they are older than the retention, and
/// idempotency keys once they are older than their window (24 hours), and uploads as their
/// links expire (which gives their keys' quota back), folds older credit ledger lines into
/// one summary line per key, and gives the freed space back (a bounded step per sweep).
/// The routes already answer 404 for expired requests and links; the
/// sweeper reclaims the space.
struct RetentionSweeper: Service {
    let jobs: any JobStore
    let uploads: any UploadStore
    /// Told of every deleted job, so that it stops serving it.
    let cache: FinishedJobCache?
    let clock: any WallClock
    let retention: TimeInterval
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await sweepOnce()
            } catch  where !(error is CancellationError) {
                logger.warning("Retention sweep failed; trying again at the next one", metadata: ["error": "\(error)"])
            } catch {
                break
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
        }
    }

    /// Deletes everything expired now; returns how many jobs were removed.
    @discardableResult
    func sweepOnce() async throws -> Int {
        let cutoff = clock.now().addingTimeInterval(-retention)
        var removed = 0
        while true {
            let batch = try await jobs.deleteFinished(before: cutoff, limit: 500)
            cache?.forget(batch)
            removed += batch.count
            if batch.count < 500 { break }
        }
        let keysExpired = try await sweepIdempotencyKeys()
        var uploadsRemoved = 0
        while true {
            let batch = try await uploads.deleteUploads(createdBefore: cutoff, limit: 500).count
            uploadsRemoved += batch
            if batch < 500 { break }
        }
        let folded = try await jobs.foldLedger(before: cutoff)
        let reclaimed = try await jobs.reclaimSpace()
        if removed > 0 || keysExpired > 0 || uploadsRemoved > 0 || folded > 0 || reclaimed > 0 {
            logger.info(
                "Retention sweep",
                metadata: [
                    "removed": "\(removed)", "idempotency_keys_expired": "\(keysExpired)",
                    "uploads_removed": "\(uploadsRemoved)", "ledger_lines_folded": "\(folded)",
                    "bytes_reclaimed": "\(reclaimed)",
                ])
        }
        return removed
    }

    /// Deletes the idempotency keys past their window; returns how many went.
    private func sweepIdempotencyKeys() async throws -> Int {
        let cutoff = IdempotentSubmit.expiry(now: clock.now())
        var expired = 0
        while true {
            let batch = try await jobs.deleteIdempotencyKeys(before: cutoff, limit: 500)
            expired += batch
            if batch < 500 { return expired }
        }
    }
}
