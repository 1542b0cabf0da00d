import Logging
import Synchronization

/// Every line a test's loggers log, for tests that check what a store or a server logs and
/// at which level. Its loggers' handlers (``handler``) keep their lines here.
public final class LogRecorder: Sendable {
    public struct Line: Sendable {
        public let level: Logger.Level
        public let message: String
        /// The logger's metadata with the line's own over it.
        public let metadata: Logger.Metadata

        /// A field as text.
        public subscript(_ key: String) -> String? { metadata[key]?.description }
    }

    private let lines = Mutex<[Line]>([])

    public init() {}

    public var logged: [Line] { lines.withLock { $0 } }

    /// A handler whose lines this recorder keeps.
    public var handler: Handler { Handler(recorder: self) }

    /// A logger at `level` whose lines land here.
    public func logger(label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in self.handler }
        logger.logLevel = level
        return logger
    }

    public struct Handler: LogHandler {
        let recorder: LogRecorder
        public var logLevel = Logger.Level.debug
        public var metadata: Logger.Metadata = [:]

        public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        public func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, own in own }
            recorder.lines.withLock {
                $0.append(Line(level: event.level, message: event.message.description, metadata: merged))
            }
        }
    }
}
