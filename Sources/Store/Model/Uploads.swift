import Foundation

/// A file a key uploads (`POST /upload-asset`), checked by the server before it is stored.
public struct NewUpload: Sendable, Equatable {
    /// The name it is stored and served under (`upload-….png`); its image is read back with
    /// ``JobReader/image(key:)``, like a result's.
    public var name: String
    public var mediaType: String
    public var bytes: [UInt8]

    public init(name: String, mediaType: String, bytes: [UInt8]) {
        self.name = name
        self.mediaType = mediaType
        self.bytes = bytes
    }
}

/// A stored upload, without its bytes.
public struct StoredUpload: Sendable, Equatable {
    public var name: String
    public var keyID: String
    public var mediaType: String
    /// Its size in bytes, which counts against the key's ``UploadQuota``.
    public var size: Int
    public var createdAt: Date

    public init(name: String, keyID: String, mediaType: String, size: Int, createdAt: Date) {
        self.name = name
        self.keyID = keyID
        self.mediaType = mediaType
        self.size = size
        self.createdAt = createdAt
    }
}

/// The keys' uploaded files: stored with their bytes, counted against each key's quota,
/// deleted by the retention sweeper (which gives the quota back).
public protocol UploadStore: Sendable {
    /// Stores the files of one upload for `keyID`, all or none, in one transaction that
    /// checks the key's stored bytes against `quota` (``UploadQuotaExceeded`` past it).
    func storeUploads(_ uploads: [NewUpload], keyID: String, quota: UploadQuota) async throws -> [StoredUpload]

    /// The bytes the key's uploads hold now.
    func uploadedBytes(keyID: String) async throws -> Int

    /// Deletes uploads made before `cutoff`, with their bytes, and returns them.
    func deleteUploads(createdBefore cutoff: Date, limit: Int) async throws -> [StoredUpload]
}

extension StoredUpload {
    /// The columns ``init(columns:)`` reads, in order.
    static let columns = "name, key_id, media_type, size, created_at"

    init(columns row: some ColumnReader) throws {
        self.init(
            name: try row.string(0), keyID: try row.string(1), mediaType: try row.string(2), size: try row.int(3),
            createdAt: try row.date(4))
    }
}

extension HistoryRow {
    /// The job's columns, then its stored body.
    static let columns = JobRecord.columns + ", request_body"

    init(columns row: some ColumnReader) throws {
        self.init(
            record: try JobRecord(columns: row), requestBody: try row.optionalString(JobRecord.columnCount))
    }
}
