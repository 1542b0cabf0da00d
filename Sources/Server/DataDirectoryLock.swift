import Foundation
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a data directory, held while a server runs. The embedded store
/// assumes one server per directory (at start it takes over every job left PROCESSING), so
/// a second `serve` on the same directory must refuse to start rather than steal jobs.
/// `nano-banana keys …` does not take it and works while the server runs.
///
/// The lock also notices when the directory is replaced or removed under the running
/// server (``isInPlace``): the server would go on writing to files nobody can see.
public final class DataDirectoryLock: Sendable {
    private let descriptor: Int32
    let directory: URL
    private let lockPath: String

    init(directory: URL) throws(DataDirectoryLockError) {
        let path = directory.appendingPathComponent("server.lock").path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpen(path) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw .held(directory.path)
        }
        self.descriptor = descriptor
        self.directory = directory
        self.lockPath = path
    }

    /// Whether the lock file at the directory's path is still the one this lock holds: not
    /// when the directory was moved, removed or replaced, or the lock file deleted.
    var isInPlace: Bool {
        var held = stat()
        var found = stat()
        guard fstat(descriptor, &held) == 0, stat(lockPath, &found) == 0 else { return false }
        return held.st_dev == found.st_dev && held.st_ino == found.st_ino
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

public enum DataDirectoryLockError: Error, CustomStringConvertible {
    case cannotOpen(String)
    case held(String)
    case replaced(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path): "Cannot open the lock file \(path)."
        case .held(let directory):
            "Another nano-banana server is already running on the data directory \(directory). Stop it, or use another --data-dir."
        case .replaced(let directory):
            "The data directory \(directory) was moved, removed or replaced while the server ran; stopping rather than writing to files nobody sees. Restart the server on the directory you mean."
        }
    }
}

/// Exits the process when its data directory is no longer where it was
/// (``DataDirectoryLock/isInPlace``), checking every `interval`; runs until shutdown.
struct DataDirectoryWatch: Service {
    let lock: DataDirectoryLock
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard lock.isInPlace || Task.isShuttingDownGracefully || Task.isCancelled else {
                throw DataDirectoryLockError.replaced(lock.directory.path)
            }
        }
    }
}
