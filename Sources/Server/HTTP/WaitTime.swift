import Foundation

/// How long a request asks the server to hold its answer for a job to finish: `?wait=N` on
/// a status read (a long-poll), `Prefer: wait=N` on a v2 submit (RFC 7240). Seconds, at
/// most ``maximum``.
enum WaitTime {
    /// The longest a request may wait, in seconds.
    static let maximum: Double = 60

    /// The `wait` query parameter: absent or `0` is no wait; anything but a number of
    /// seconds from 0 to ``maximum`` is refused, naming the parameter.
    static func query(_ text: Substring?) -> Result<Duration?, WaitTimeRefusal> {
        guard let text else { return .success(nil) }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= maximum else {
            return .failure(WaitTimeRefusal(text: String(text.prefix(40))))
        }
        return .success(seconds > 0 ? .milliseconds(Int64((seconds * 1000).rounded())) : nil)
    }

    /// `duration` as the seconds a `Preference-Applied: wait=` states (`10`, `2.5`).
    static func text(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }

    /// The `wait` preference among the `Prefer` header's values (`respond-async, wait=10`),
    /// capped at ``maximum``. As RFC 7240 asks, a preference the server cannot read is
    /// ignored, not refused.
    static func preferred(_ headerValues: [String]) -> Duration? {
        for value in headerValues {
            for preference in value.split(separator: ",") {
                let token = preference.split(separator: ";").first ?? ""
                let parts = token.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, parts[0].lowercased() == "wait" else { continue }
                let raw = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                guard let seconds = Double(raw), seconds.isFinite, seconds > 0 else { continue }
                return .milliseconds(Int64((min(seconds, maximum) * 1000).rounded()))
            }
        }
        return nil
    }
}

/// A `wait` query parameter that is not a number of seconds from 0 to 60.
struct WaitTimeRefusal: Error, Equatable {
    let text: String

    var message: String {
        "Invalid 'wait' '\(text)': use a number of seconds from 0 to \(Int(WaitTime.maximum))."
    }
}
