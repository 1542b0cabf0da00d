import Foundation

/// The statement of a ``HistoryQuery``, once for both stores: its conditions and its order,
/// with every value bound through the store's own placeholders (only fixed SQL text is
/// spliced in). The key and the creation time lead, so that the `(key_id, created_at)`
/// index serves the conditions and the default order.
struct HistoryListing: Sendable {
    /// A value to bind.
    enum Value: Sendable, Equatable {
        case text(String)
        case real(Double)
    }

    let query: HistoryQuery
    /// The store's function for the position of a substring, 0 when absent: `instr`
    /// (SQLite) or `strpos` (PostgreSQL), which take their arguments in the same order.
    let substringPosition: String

    /// The conditions, joined with AND. `bind` returns the placeholder of a value; values
    /// are bound in the order they appear in the text (SQLite's `?` counts on that).
    func conditions(bind: (Value) -> String) -> String {
        var terms = [
            "key_id = \(bind(.text(query.keyID)))",
            "(completed_at IS NULL OR completed_at > \(bind(.real(query.finishedAfter.timeIntervalSince1970))))",
        ]
        if let from = query.createdFrom { terms.append("created_at >= \(bind(.real(from.timeIntervalSince1970)))") }
        if let before = query.createdBefore {
            terms.append("created_at < \(bind(.real(before.timeIntervalSince1970)))")
        }
        switch query.status {
        case .completed: terms.append("status = 'COMPLETED'")
        case .failed: terms.append("status = 'FAILED'")
        case .pending: terms.append("status IN ('QUEUED', 'PROCESSING')")
        case nil: break
        }
        if let model = query.modelContains {
            terms.append("\(substringPosition)(model, \(bind(.text(model)))) > 0")
        }
        return terms.joined(separator: " AND ")
    }

    /// The ORDER BY terms: the chosen field, then submission order (newest first unless
    /// the creation time itself is sorted ascending), so that the order is total.
    var orderBy: String {
        let direction = query.order == .ascending ? "ASC" : "DESC"
        switch query.sort {
        case .created: return "created_at \(direction), seq \(direction)"
        case .model: return "model \(direction), created_at DESC, seq DESC"
        case .credits:
            return "CASE WHEN status = 'FAILED' THEN 0 ELSE cost END \(direction), created_at DESC, seq DESC"
        }
    }
}
