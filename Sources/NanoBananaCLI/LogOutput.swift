import Logging
import Server
import Synchronization

/// Sets every logger of the process, those libraries make on their own included, to write
/// in one format to standard error (swift-log's `LoggingSystem`, which takes one setting
/// per process: a command calls this once, before it makes any logger).
enum LogOutput {
    private static let done = Mutex(false)

    static func bootstrap(_ format: LogFormat, level: Logger.Level) {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in format.handler(label: label, level: level) }
    }
}
