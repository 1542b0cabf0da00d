import Foundation

/// How the retention sweep keeps a key's credit ledger bounded while its balance stays
/// explainable, decided without I/O. A key's oldest lines, up to the newest one older than
/// the cutoff, become one `summary` line: it keeps that last line's place, time and balance
/// after, and its amount is the sum of every folded line. The folded lines are always a
/// prefix of the key's ledger, so the summary and the lines after it still add up to the
/// balance. A prefix stops before the reservation of a job still QUEUED or PROCESSING,
/// which that job's settlement or refund looks for.
///
/// A store reads, per key, the oldest open reservation, then the newest line older than the
/// cutoff below ``limit(oldestOpenReservation:)`` and how many lines reach it, and folds
/// when ``folds(lines:)`` says so, in one transaction.
struct LedgerFold: Sendable {
    let cutoff: Date

    /// Lines at or above this place stay as they are.
    func limit(oldestOpenReservation: Int64?) -> Int64 { oldestOpenReservation ?? Int64.max }

    /// Whether a prefix of `lines` lines is worth folding: one line (a summary already, or a
    /// single movement) stays as it is.
    func folds(lines: Int) -> Bool { lines > 1 }
}
