import Foundation
import Testing

@testable import Store

@Suite("Uploads and their quota, for every store")
struct UploadStoreTests {
    func file(_ name: String, size: Int) -> NewUpload {
        NewUpload(name: name, mediaType: "image/png", bytes: [UInt8](repeating: 7, count: size))
    }

    @Test(
        "uploads are stored with their bytes and counted against the key's quota, all or none",
        arguments: TestBackend.all)
    func quota(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let key = try await stores.keys.create(name: "k").key.id
        let quota = UploadQuota(bytes: 100)
        let stored = try await stores.uploads.storeUploads(
            [file("upload-a.png", size: 40), file("upload-b.png", size: 30)], keyID: key, quota: quota)
        #expect(stored.map(\.name) == ["upload-a.png", "upload-b.png"])
        #expect(stored.allSatisfy { $0.keyID == key && $0.createdAt == clock.now() && $0.mediaType == "image/png" })
        #expect(try await stores.jobs.image(key: "upload-a.png") == [UInt8](repeating: 7, count: 40))
        #expect(try await stores.uploads.uploadedBytes(keyID: key) == 70)

        // 31 more bytes would pass the quota: nothing of the upload is stored.
        await #expect(throws: UploadQuotaExceeded(quota: 100, used: 70, adding: 31)) {
            try await stores.uploads.storeUploads(
                [file("upload-c.png", size: 1), file("upload-d.png", size: 30)], keyID: key, quota: quota)
        }
        #expect(try await stores.jobs.image(key: "upload-c.png") == nil)
        #expect(try await stores.uploads.uploadedBytes(keyID: key) == 70)
        _ = try await stores.uploads.storeUploads([file("upload-e.png", size: 30)], keyID: key, quota: quota)
        #expect(try await stores.uploads.uploadedBytes(keyID: key) == 100)
        // Another key has its own quota; 0 means none.
        let other = try await stores.keys.create(name: "other").key.id
        _ = try await stores.uploads.storeUploads([file("upload-f.png", size: 100)], keyID: other, quota: quota)
        _ = try await stores.uploads.storeUploads(
            [file("upload-g.png", size: 1000)], keyID: key, quota: UploadQuota(bytes: 0))
        #expect(try await stores.uploads.uploadedBytes(keyID: other) == 100)
    }

    @Test(
        "the sweep deletes uploads older than the cutoff with their bytes, and frees the quota",
        arguments: TestBackend.all)
    func sweep(backend: TestBackend) async throws {
        let clock = ManualWallClock()
        let stores = try await backend.stores(clock: clock)
        let key = try await stores.keys.create(name: "k").key.id
        let quota = UploadQuota(bytes: 100)
        _ = try await stores.uploads.storeUploads([file("upload-old.png", size: 60)], keyID: key, quota: quota)
        clock.advance(by: 10)
        _ = try await stores.uploads.storeUploads([file("upload-new.png", size: 40)], keyID: key, quota: quota)
        let cutoff = clock.now().addingTimeInterval(-5)
        let deleted = try await stores.uploads.deleteUploads(createdBefore: cutoff, limit: 500)
        #expect(deleted.map(\.name) == ["upload-old.png"])
        #expect(deleted.first?.size == 60)
        #expect(try await stores.jobs.image(key: "upload-old.png") == nil)
        #expect(try await stores.jobs.image(key: "upload-new.png") != nil)
        #expect(try await stores.uploads.uploadedBytes(keyID: key) == 40)
        #expect(try await stores.uploads.deleteUploads(createdBefore: cutoff, limit: 500).isEmpty)
        _ = try await stores.uploads.storeUploads([file("upload-again.png", size: 60)], keyID: key, quota: quota)
    }

    @Test("concurrent uploads of one key never pass its quota together", arguments: TestBackend.all)
    func concurrent(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock())
        let key = try await stores.keys.create(name: "k").key.id
        let uploads = stores.uploads
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<10 {
                group.addTask {
                    do {
                        _ = try await uploads.storeUploads(
                            [file("upload-\(index).png", size: 25)], keyID: key, quota: UploadQuota(bytes: 100))
                        return true
                    } catch is UploadQuotaExceeded {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 4)
        #expect(try await uploads.uploadedBytes(keyID: key) == 100)
    }

    @Test("the quota compares without overflowing")
    func quotaRule() throws {
        let quota = UploadQuota(bytes: 100)
        try quota.admit(used: 0, adding: 100)
        try quota.admit(used: 99, adding: 1)
        #expect(throws: UploadQuotaExceeded(quota: 100, used: 99, adding: 2)) { try quota.admit(used: 99, adding: 2) }
        #expect(throws: UploadQuotaExceeded.self) { try quota.admit(used: 0, adding: Int.max) }
        #expect(throws: UploadQuotaExceeded.self) { try quota.admit(used: Int.max, adding: 1) }
        try UploadQuota(bytes: 0).admit(used: Int.max, adding: Int.max)
    }
}
