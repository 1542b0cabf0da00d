import Logging
import Synchronization

/// Every line a test server logs, for tests that check what it logs and at which level.
/// Its loggers' handlers (``handler``) keep their lines here.
final class LogRecorder: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        /// The logger's metadata with the line's own over it.
        let metadata: Logger.Metadata

        /// A field as text.
        subscript(_ key: String) -> String? { metadata[key]?.description }
    }

    private let lines = Mutex<[Line]>([])

    var logged: [Line] { lines.withLock { $0 } }

    /// A handler whose lines this recorder keeps.
    var handler: Handler { Handler(recorder: self) }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var logLevel = Logger.Level.debug
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, own in own }
            recorder.lines.withLock {
                $0.append(Line(level: event.level, message: event.message.description, metadata: merged))
            }
        }
    }
}
