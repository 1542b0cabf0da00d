import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file whose modification time says "something changed", cheap to check with one
/// `stat` and visible across processes. The key store touches it after every create and
/// revoke, so a server's key cache drops stale entries on the next request after
/// `nano-banana keys revoke` returns, even though the CLI is another process.
public struct ChangeMarker: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Records a change.
    public func touch() {
        _ = FileManager.default.createFile(atPath: path, contents: Data(UUID().uuidString.utf8))
    }

    /// A value that differs after every ``touch()``; 0 while the file does not exist.
    public func token() -> Int64 {
        var status = stat()
        guard stat(path, &status) == 0 else { return 0 }
        return Int64(status.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(status.st_mtim.tv_nsec) &+ Int64(status.st_size)
    }
}
