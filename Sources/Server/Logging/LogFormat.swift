import Logging

/// How the process writes its log lines, all to standard error: `--log-format` and
/// `NANO_BANANA_LOG_FORMAT`.
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's plain lines, for a person at a terminal. The default.
    case text
    /// One JSON object per line (``JSONLogHandler``), for a log collector.
    case json

    /// A handler of this format for the logger labelled `label`, at `level`, writing to
    /// standard error: what `LoggingSystem.bootstrap` takes.
    public func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
