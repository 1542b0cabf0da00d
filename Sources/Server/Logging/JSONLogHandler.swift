import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A swift-log handler that writes each line as one JSON object on one line
/// (``JSONLogLine``): `time`, `level`, `message`, `label`, then the logger's metadata as
/// fields of their own. For `--log-format json`.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let output: LogLineOutput

    /// - Parameters:
    ///   - output: where the lines go; standard error unless a test takes them.
    public init(
        label: String, output: LogLineOutput = .standardError,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.output = output
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            fields.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata, !explicit.isEmpty {
            fields.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            fields["error.message"] = "\(error)"
            fields["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        let line = JSONLogLine(
            time: Date(), level: event.level, message: event.message.description, label: label, fields: fields)
        output.write(line.encoded)
    }
}

/// Where a ``JSONLogHandler``'s lines go: each whole line at once, newline included.
public struct LogLineOutput: Sendable {
    let write: @Sendable (String) -> Void

    public init(_ write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    /// Standard error: one `write(2)` per line where it fits, lines of the process never
    /// interleaved (they are written one at a time).
    public static let standardError = LogLineOutput { line in
        var line = line
        line.withUTF8 { bytes in
            StandardError.lock.withLock { _ in writeFully(2, bytes) }
        }
    }

    private enum StandardError {
        static let lock = Mutex(())
    }
}

/// Writes all of `bytes` to the file descriptor, across partial writes and interruptions;
/// gives up when it is closed or broken (the line is lost, not the process).
private func writeFully(_ descriptor: Int32, _ bytes: UnsafeBufferPointer<UInt8>) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, base + offset, bytes.count - offset)
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            return
        }
    }
}
