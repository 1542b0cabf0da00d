import Foundation
import Logging
import NIOCore
import PostgresNIO

extension PostgresJobStore: RequestHistory {
    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        let logger = logger
        let listing = HistoryListing(query: query, substringPosition: "strpos")
        var sql = SQLBuilder()
        let conditions = listing.conditions { value in
            switch value {
            case .text(let text): sql.bind(text)
            case .real(let real): sql.bind(real)
            }
        }
        let page = """
            SELECT \(HistoryRow.columns) FROM jobs WHERE \(conditions) ORDER BY \(listing.orderBy) \
            LIMIT \(sql.bind(query.limit)) OFFSET \(sql.bind(query.offset))
            """
        let count = "SELECT count(*) FROM jobs WHERE \(conditions)"
        let (pageQuery, countQuery) = (sql.query(page), sql.query(count))
        // One snapshot for the count and the page.
        return try await database.withTransaction { connection in
            try await connection.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            let rows = try await connection.records(HistoryRow.init(columns:), pageQuery, logger: logger)
            let total = try await connection.value(Int.self, countQuery, logger: logger) ?? 0
            return HistoryPage(rows: rows, total: total)
        }
    }

    public func historyRow(id: String) async throws -> HistoryRow? {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                HistoryRow.init(columns:), "SELECT \(unescaped: HistoryRow.columns) FROM jobs WHERE id = \(id)",
                logger: logger
            ).first
        }
    }
}

extension PostgresJobStore: UploadStore {
    public func storeUploads(
        _ uploads: [NewUpload], keyID: String, quota: UploadQuota
    ) async throws -> [StoredUpload] {
        let logger = logger
        let now = clock.now()
        let adding = uploads.reduce(0) { $0 + $1.bytes.count }
        return try await database.withTransaction { connection in
            // The key's row is the lock its uploads take turns on, as its submissions do.
            try await connection.run("SELECT 1 FROM api_keys WHERE id = \(keyID) FOR UPDATE", logger: logger)
            let used = try await Self.uploadedBytes(connection, keyID: keyID, logger: logger)
            try quota.admit(used: used, adding: adding)
            return try await uploads.asyncMap { upload in
                try await connection.run(
                    """
                    WITH row AS (
                        INSERT INTO uploads (name, key_id, media_type, size, created_at)
                        VALUES (\(upload.name), \(keyID), \(upload.mediaType), \(upload.bytes.count), \
                    \(now.timeIntervalSince1970))
                    )
                    INSERT INTO blobs (key, bytes) VALUES (\(upload.name), \(ByteBuffer(bytes: upload.bytes)))
                    """, logger: logger)
                return StoredUpload(
                    name: upload.name, keyID: keyID, mediaType: upload.mediaType, size: upload.bytes.count,
                    createdAt: now)
            }
        }
    }

    public func uploadedBytes(keyID: String) async throws -> Int {
        let logger = logger
        return try await database.withConnection { connection in
            try await Self.uploadedBytes(connection, keyID: keyID, logger: logger)
        }
    }

    private static func uploadedBytes(
        _ connection: PostgresConnection, keyID: String, logger: Logger
    ) async throws -> Int {
        try await connection.value(
            Int.self, "SELECT COALESCE(sum(size), 0)::BIGINT FROM uploads WHERE key_id = \(keyID)", logger: logger)
            ?? 0
    }

    /// Deletes expired uploads and their bytes in one statement; rows another node is
    /// deleting at the same moment are skipped, so each is swept once across the cluster.
    public func deleteUploads(createdBefore cutoff: Date, limit: Int) async throws -> [StoredUpload] {
        let logger = logger
        return try await database.withConnection { connection in
            try await connection.records(
                StoredUpload.init(columns:),
                """
                WITH doomed AS (
                    SELECT name FROM uploads WHERE created_at < \(cutoff.timeIntervalSince1970)
                    ORDER BY created_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
                ), gone AS (
                    DELETE FROM uploads USING doomed WHERE uploads.name = doomed.name RETURNING uploads.*
                ), bytes AS (
                    DELETE FROM blobs USING gone WHERE blobs.key = gone.name
                )
                SELECT \(unescaped: StoredUpload.columns) FROM gone
                """, logger: logger)
        }
    }
}

extension Sequence {
    /// `map` with an async transform, one element after the other.
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async throws -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
