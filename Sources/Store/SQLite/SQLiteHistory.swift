import Foundation
import GRDB

extension HistoryListing.Value {
    var sqlite: any DatabaseValueConvertible {
        switch self {
        case .text(let text): text
        case .real(let real): real
        }
    }
}

extension SQLiteJobStore: RequestHistory {
    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        let listing = HistoryListing(query: query, substringPosition: "instr")
        var bound = StatementArguments()
        let conditions = listing.conditions { value in
            bound += [value.sqlite]
            return "?"
        }
        let arguments = bound
        // One read transaction: the count and the page see the same snapshot.
        return try await pool.read { db in
            let total =
                try db.cachedValue(Int.self, sql: "SELECT COUNT(*) FROM jobs WHERE \(conditions)", arguments: arguments)
                ?? 0
            let rows = try db.records(
                HistoryRow.init(columns:),
                sql:
                    "SELECT \(HistoryRow.columns) FROM jobs WHERE \(conditions) ORDER BY \(listing.orderBy) LIMIT ? OFFSET ?",
                arguments: arguments + [query.limit, query.offset])
            return HistoryPage(rows: rows, total: total)
        }
    }

    public func historyRow(id: String) async throws -> HistoryRow? {
        try pool.readNow { db in
            try db.records(
                HistoryRow.init(columns:), sql: "SELECT \(HistoryRow.columns) FROM jobs WHERE id = ?", arguments: [id]
            ).first
        }
    }
}

extension SQLiteJobStore: UploadStore {
    public func storeUploads(
        _ uploads: [NewUpload], keyID: String, quota: UploadQuota
    ) async throws -> [StoredUpload] {
        let now = clock.now()
        // SQLite runs one write transaction at a time: the sum cannot change under it.
        return try await pool.write { db in
            let used = try Self.uploadedBytes(db, keyID: keyID)
            try quota.admit(used: used, adding: uploads.reduce(0) { $0 + $1.bytes.count })
            return try uploads.map { upload in
                try db.cachedExecute(
                    sql: "INSERT INTO uploads (name, key_id, media_type, size, created_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [upload.name, keyID, upload.mediaType, upload.bytes.count, now.timeIntervalSince1970])
                try db.cachedExecute(
                    sql: "INSERT INTO blobs (key, bytes) VALUES (?, ?)", arguments: [upload.name, Data(upload.bytes)])
                return StoredUpload(
                    name: upload.name, keyID: keyID, mediaType: upload.mediaType, size: upload.bytes.count,
                    createdAt: now)
            }
        }
    }

    public func uploadedBytes(keyID: String) async throws -> Int {
        try pool.readNow { db in try Self.uploadedBytes(db, keyID: keyID) }
    }

    private static func uploadedBytes(_ db: Database, keyID: String) throws -> Int {
        try db.cachedValue(
            Int.self, sql: "SELECT COALESCE(SUM(size), 0) FROM uploads WHERE key_id = ?", arguments: [keyID])
            ?? 0
    }

    public func deleteUploads(createdBefore cutoff: Date, limit: Int) async throws -> [StoredUpload] {
        try await pool.write { db in
            let expired = try db.records(
                StoredUpload.init(columns:),
                sql: "SELECT \(StoredUpload.columns) FROM uploads WHERE created_at < ? ORDER BY created_at LIMIT ?",
                arguments: [cutoff.timeIntervalSince1970, limit])
            for upload in expired {
                try db.cachedExecute(sql: "DELETE FROM uploads WHERE name = ?", arguments: [upload.name])
                try db.cachedExecute(sql: "DELETE FROM blobs WHERE key = ?", arguments: [upload.name])
            }
            return expired
        }
    }
}
