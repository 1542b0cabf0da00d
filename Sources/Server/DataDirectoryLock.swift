import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a data directory, held while a server runs. The embedded store
/// assumes one server per directory (at start it takes over every job left PROCESSING), so
/// a second `serve` on the same directory must refuse to start rather than steal jobs.
/// `nano-banana keys …` does not take it and works while the server runs.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32

    init(directory: URL) throws(DataDirectoryLockError) {
        let path = directory.appendingPathComponent("server.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpen(path) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw .held(directory.path)
        }
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

public enum DataDirectoryLockError: Error, CustomStringConvertible {
    case cannotOpen(String)
    case held(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path): "Cannot open the lock file \(path)."
        case .held(let directory):
            "Another nano-banana server is already running on the data directory \(directory). Stop it, or use another --data-dir."
        }
    }
}
