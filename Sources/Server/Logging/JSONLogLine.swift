import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One log line as one JSON object on one line: `time` (ISO 8601 in UTC, with
/// milliseconds), `level`, `message` and `label` first, then each metadata field in key
/// order. Strings are escaped as JSON requires (a newline in a message is `\n`, so a line
/// never breaks); integers, finite floating-point numbers and booleans given as
/// `.stringConvertible` stay numbers and booleans; nested metadata stays nested. A field
/// named like one of the first four is written as `metadata.<name>`.
struct JSONLogLine {
    let time: Date
    let level: Logger.Level
    let message: String
    let label: String
    let fields: Logger.Metadata

    static let reservedKeys: Set<String> = ["time", "level", "message", "label"]

    /// The line, newline included.
    var encoded: String {
        var out = "{\"time\":\""
        out += Self.timestamp(time)
        out += "\",\"level\":\""
        out += level.rawValue
        out += "\",\"message\":"
        Self.appendString(message, to: &out)
        out += ",\"label\":"
        Self.appendString(label, to: &out)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            out += ","
            Self.appendString(Self.reservedKeys.contains(key) ? "metadata." + key : key, to: &out)
            out += ":"
            Self.appendValue(value, to: &out)
        }
        out += "}\n"
        return out
    }

    /// `2026-11-25T09:04:05.123Z`.
    static func timestamp(_ date: Date) -> String {
        // Whole milliseconds first (rounded: 0.123 is not quite representable), then split.
        let totalMilliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        var seconds = time_t(totalMilliseconds.floorDivided(by: 1000))
        let milliseconds = Int(totalMilliseconds - Int64(seconds) * 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return "\(padded(Int(parts.tm_year) + 1900, 4))-\(padded(Int(parts.tm_mon) + 1, 2))-"
            + "\(padded(Int(parts.tm_mday), 2))T\(padded(Int(parts.tm_hour), 2)):\(padded(Int(parts.tm_min), 2)):"
            + "\(padded(Int(parts.tm_sec), 2)).\(padded(milliseconds, 3))Z"
    }

    private static func padded(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    static func appendValue(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let string):
            appendString(string, to: &out)
        case .stringConvertible(let convertible):
            switch convertible {
            case let integer as any BinaryInteger:
                out += "\(integer)"
            case let number as Double where number.isFinite:
                out += "\(number)"
            case let number as Float where number.isFinite:
                out += "\(number)"
            case let flag as Bool:
                out += flag ? "true" : "false"
            default:
                appendString(convertible.description, to: &out)
            }
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                appendValue(element, to: &out)
            }
            out += "]"
        case .dictionary(let dictionary):
            out += "{"
            for (index, (key, element)) in dictionary.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                appendValue(element, to: &out)
            }
            out += "}"
        }
    }

    /// `string` as a JSON string: quotes, backslashes and control characters escaped
    /// (`\n`, `\r`, `\t`, `\b`, `\f`, else `\u00XX`); everything else as is, in UTF-8.
    static func appendString(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\u{00}"..."\u{1F}", "\u{7F}":
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (times before 1970 included).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor < 0) ? quotient - 1 : quotient
    }
}
