import Logging
import Synchronization

/// The lines a store logs, for tests of what it reports about the jobs it changes.
final class LoggedLines: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let fields: [String: String]

        subscript(_ key: String) -> String? { fields[key] }
    }

    private let lines = Mutex<[Line]>([])

    var all: [Line] { lines.withLock { $0 } }

    /// A logger at info whose lines land here.
    var logger: Logger {
        var logger = Logger(label: "store-test") { _ in Handler(lines: self) }
        logger.logLevel = .info
        return logger
    }

    private struct Handler: LogHandler {
        let lines: LoggedLines
        var logLevel = Logger.Level.info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, own in own }
            let line = Line(level: event.level, fields: merged.mapValues(\.description))
            lines.lines.withLock { $0.append(line) }
        }
    }
}
