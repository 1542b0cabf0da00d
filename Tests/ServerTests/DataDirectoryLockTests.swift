import Foundation
import Testing

@testable import Server

@Suite("Data directory lock", .timeLimit(.minutes(1)))
struct DataDirectoryLockTests {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("nb-lock-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a second lock on the same directory is refused")
    func exclusive() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lock = try DataDirectoryLock(directory: directory)
        #expect(throws: DataDirectoryLockError.self) { try DataDirectoryLock(directory: directory) }
        #expect(lock.isInPlace)
    }

    @Test("a directory moved aside and replaced, or removed, is noticed, and the watch stops the node")
    func replaced() async throws {
        let directory = try temporaryDirectory()
        let aside = directory.appendingPathExtension("old")
        defer {
            try? FileManager.default.removeItem(at: directory)
            try? FileManager.default.removeItem(at: aside)
        }
        let lock = try DataDirectoryLock(directory: directory)
        try FileManager.default.moveItem(at: directory, to: aside)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        #expect(!lock.isInPlace)
        await #expect(throws: DataDirectoryLockError.self) {
            try await DataDirectoryWatch(lock: lock, interval: .milliseconds(10)).run()
        }
        try FileManager.default.removeItem(at: directory)
        #expect(!lock.isInPlace)
    }
}
