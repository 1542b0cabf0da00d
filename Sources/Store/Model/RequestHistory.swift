import Foundation
import NanoBananaAPI

/// One page of a key's requests, as `GET /v2/requests` asks for it; ``HistoryListing``
/// turns it into the statement both stores run.
public struct HistoryQuery: Sendable, Equatable {
    /// `status=`: the three states the segmind SDK names; PENDING is QUEUED or PROCESSING.
    public enum StatusFilter: String, Sendable, CaseIterable {
        case completed = "COMPLETED"
        case failed = "FAILED"
        case pending = "PENDING"
    }

    /// `sort_by=`, as the segmind SDK names the fields.
    public enum SortField: String, Sendable, CaseIterable {
        /// When the request was submitted (the default).
        case created = "model_created"
        case model = "model_name"
        /// What the request costs (0 once FAILED).
        case credits = "credits_deduction"
    }

    /// `sort_order=`.
    public enum SortOrder: String, Sendable, CaseIterable {
        case descending = "desc"
        case ascending = "asc"
    }

    public var keyID: String
    /// Requests that finished at or before this instant have expired (the retention) and
    /// are left out, even before the sweeper deletes them.
    public var finishedAfter: Date
    public var status: StatusFilter?
    /// A part of the model's slug (case-sensitive).
    public var modelContains: String?
    /// Only requests submitted at or after this instant.
    public var createdFrom: Date?
    /// Only requests submitted before this instant.
    public var createdBefore: Date?
    public var sort: SortField
    public var order: SortOrder
    /// Rows skipped: `(page - 1) * per_page`.
    public var offset: Int
    /// Rows on the page: `per_page`.
    public var limit: Int

    public init(
        keyID: String, finishedAfter: Date, status: StatusFilter? = nil, modelContains: String? = nil,
        createdFrom: Date? = nil, createdBefore: Date? = nil, sort: SortField = .created,
        order: SortOrder = .descending, offset: Int = 0, limit: Int = 20
    ) {
        self.keyID = keyID
        self.finishedAfter = finishedAfter
        self.status = status
        self.modelContains = modelContains
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.sort = sort
        self.order = order
        self.offset = offset
        self.limit = limit
    }
}

/// A request as its history shows it: the stored job and the body it was submitted with.
public struct HistoryRow: Sendable, Equatable {
    public var record: JobRecord
    /// The validated parameters as JSON, long `data:` URLs shortened when it was stored;
    /// `nil` for a request stored before bodies were kept.
    public var requestBody: String?

    public init(record: JobRecord, requestBody: String?) {
        self.record = record
        self.requestBody = requestBody
    }
}

/// One page of a history and the count of every row the query matches.
public struct HistoryPage: Sendable, Equatable {
    public var rows: [HistoryRow]
    public var total: Int

    public init(rows: [HistoryRow], total: Int) {
        self.rows = rows
        self.total = total
    }
}

/// A key's requests, listed and read one by one with their bodies. Both job stores serve
/// it from the index on `(key_id, created_at)`.
public protocol RequestHistory: Sendable {
    /// The page `query` asks for, in a total order (ties broken by submission order), so
    /// that the pages of an unchanging history never repeat or skip a row.
    func history(_ query: HistoryQuery) async throws -> HistoryPage

    /// One request with its body, whoever owns it (ownership is checked by the caller).
    func historyRow(id: String) async throws -> HistoryRow?
}
