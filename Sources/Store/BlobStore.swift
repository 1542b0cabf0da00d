import Foundation

/// Where result images live, by key.
public protocol BlobStore: Sendable {
    func put(_ bytes: [UInt8], key: String) async throws
    func get(key: String) async throws -> [UInt8]?
    func delete(key: String) async throws
}

/// Blobs as files in one directory, written atomically (temp file, then rename), so a
/// reader never sees half an image even if the process dies mid-write.
public struct FileBlobStore: BlobStore {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    private func url(for key: String) throws -> URL {
        guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }),
            !key.hasPrefix(".")
        else { throw BlobKeyError(key: key) }
        return directory.appendingPathComponent(key)
    }

    public func put(_ bytes: [UInt8], key: String) async throws {
        let target = try url(for: key)
        let temporary = directory.appendingPathComponent(".\(key).\(UUID().uuidString).tmp")
        try Data(bytes).write(to: temporary)
        if rename(temporary.path, target.path) != 0 {
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(.fileWriteUnknown)
        }
    }

    public func get(key: String) async throws -> [UInt8]? {
        let target = try url(for: key)
        guard let data = FileManager.default.contents(atPath: target.path) else { return nil }
        return [UInt8](data)
    }

    public func delete(key: String) async throws {
        let target = try url(for: key)
        try? FileManager.default.removeItem(at: target)
    }
}

/// A blob key with characters that could escape the blob directory.
public struct BlobKeyError: Error, Sendable {
    public let key: String
}
