/// How many bytes of uploads one key may hold at once (`--upload-quota`); 0: no limit.
/// Both stores ask it inside the transaction that stores an upload.
public struct UploadQuota: Sendable, Equatable {
    public var bytes: Int

    public init(bytes: Int) {
        self.bytes = bytes
    }

    /// The default: 1 GiB per key.
    public static let defaultBytes = 1 << 30

    /// Admits an upload of `adding` bytes to a key holding `used`.
    public func admit(used: Int, adding: Int) throws(UploadQuotaExceeded) {
        guard bytes > 0 else { return }
        // Compared without adding, so that no sum can overflow.
        guard adding <= bytes, used <= bytes - adding else {
            throw UploadQuotaExceeded(quota: bytes, used: used, adding: adding)
        }
    }
}

/// An upload the key's quota cannot take: nothing of it was stored.
public struct UploadQuotaExceeded: Error, Sendable, Equatable {
    /// The quota, in bytes.
    public let quota: Int
    /// What the key's uploads hold already.
    public let used: Int
    /// What this upload would add.
    public let adding: Int
}
