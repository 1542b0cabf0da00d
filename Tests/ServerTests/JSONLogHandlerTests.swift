import Foundation
import Logging
import Synchronization
import Testing

@testable import Server

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    /// The lines a handler wrote.
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        var output: LogLineOutput { LogLineOutput { line in self.lines.withLock { $0.append(line) } } }
    }

    /// A logger at info whose JSON lines land in `lines`.
    private func logger(_ lines: Lines) -> Logger {
        var logger = Logger(label: "nano-banana") { label in JSONLogHandler(label: label, output: lines.output) }
        logger.logLevel = .info
        return logger
    }

    private func object(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test("each line is one JSON object on one line: time, level, message, label, then the metadata as fields")
    func fields() throws {
        let lines = Lines()
        var logger = logger(lines)
        logger[metadataKey: "request_id"] = "r-1"
        logger[metadataKey: "key_id"] = "key_a"
        let metadata: Logger.Metadata = ["status": .stringConvertible(404), "key_id": "key_b"]
        logger.info("HTTP request", metadata: metadata)
        logger.debug("not at info")
        let logged = lines.all
        #expect(logged.count == 1)
        let line = try #require(logged.first)
        #expect(line.hasPrefix(#"{"time":""#))
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let fields = try object(line)
        #expect(fields["level"] as? String == "info")
        #expect(fields["message"] as? String == "HTTP request")
        #expect(fields["label"] as? String == "nano-banana")
        #expect(fields["request_id"] as? String == "r-1")
        #expect(fields["key_id"] as? String == "key_b")
        #expect(fields["status"] as? Int == 404)
        #expect(Set(fields.keys) == ["time", "level", "message", "label", "request_id", "key_id", "status"])
    }

    @Test("quotes, backslashes, newlines and control characters are escaped; other text stays as it is")
    func escaping() throws {
        let lines = Lines()
        let message = "line one\nline \"two\"\t\\ \r\u{01}\u{7F} é ✓ 🍌"
        logger(lines).warning("\(message)", metadata: ["path\n\"": "a\u{0}b"])
        let line = try #require(lines.all.first)
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.contains(#"line one\nline \"two\"\t\\ \r\u0001\u007f é ✓ 🍌"#))
        let fields = try object(line)
        #expect(fields["message"] as? String == message)
        #expect(fields["path\n\""] as? String == "a\u{0}b")
        #expect(fields["level"] as? String == "warning")
    }

    @Test("numbers and booleans stay typed, nested metadata stays nested, reserved names are prefixed")
    func values() throws {
        let lines = Lines()
        let metadata: Logger.Metadata = [
            "duration_ms": .stringConvertible(12.5), "bytes_out": .stringConvertible(UInt64(7)),
            "cached": .stringConvertible(true), "nan": .stringConvertible(Double.nan),
            "nested": ["a": ["x", .stringConvertible(1)]], "message": "shadow", "text": "42",
        ]
        logger(lines).info("m", metadata: metadata)
        let fields = try object(try #require(lines.all.first))
        #expect(fields["duration_ms"] as? Double == 12.5)
        #expect(fields["bytes_out"] as? Int == 7)
        #expect(fields["cached"] as? Bool == true)
        #expect(fields["nan"] as? String == "nan")
        #expect(fields["text"] as? String == "42")
        let nested = try #require(fields["nested"] as? [String: Any])
        let array = try #require(nested["a"] as? [Any])
        #expect(array.count == 2 && array[0] as? String == "x" && array[1] as? Int == 1)
        #expect(fields["message"] as? String == "m")
        #expect(fields["metadata.message"] as? String == "shadow")
    }

    @Test("the time is ISO 8601 in UTC with milliseconds")
    func time() {
        #expect(JSONLogLine.timestamp(Date(timeIntervalSince1970: 1_700_000_000.123)) == "2023-11-14T22:13:20.123Z")
        #expect(JSONLogLine.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(JSONLogLine.timestamp(Date(timeIntervalSince1970: 59.9996)) == "1970-01-01T00:01:00.000Z")
        #expect(JSONLogLine.timestamp(Date(timeIntervalSince1970: 951_782_400.5)) == "2000-02-29T00:00:00.500Z")
    }

    @Test("an error given to the logger becomes error.message and error.type")
    func error() throws {
        struct Broken: Error, CustomStringConvertible { var description: String { "it broke" } }
        let lines = Lines()
        var handler = JSONLogHandler(label: "l", output: lines.output)
        handler.logLevel = .trace
        handler.log(
            event: LogEvent(
                level: .error, message: "failed", error: Broken(), metadata: nil, source: "s", file: #fileID,
                function: #function, line: #line))
        let fields = try object(try #require(lines.all.first))
        #expect(fields["error.message"] as? String == "it broke")
        #expect((fields["error.type"] as? String)?.hasSuffix("Broken") == true)
    }
}
