import HTTPTypes

/// The id every log line of an HTTP request carries (`request_id`), and so every line of
/// the job it submits: the client's own when it sends a usable one, else one made here.
///
/// 1. `x-request-id`, when it is 1 to ``maxLength`` visible ASCII characters (`!` to `~`:
///    no spaces, no control characters) and sent once;
/// 2. else the trace-id of a valid W3C `traceparent` (sent once), 32 lowercase hex digits;
/// 3. else a new id of the same shape as a trace-id (``generated(from:)``).
///
/// Anything else a client sends in those headers is ignored, never logged.
enum RequestCorrelation {
    /// The longest `x-request-id` taken.
    static let maxLength = 128

    /// The client's id for the request, by the rules above; `nil` when it sent none usable.
    static func incoming(_ headers: HTTPFields) -> String? {
        let requestIDs = headers[values: .requestID]
        if requestIDs.count == 1, isAcceptable(requestIDs[0]) { return requestIDs[0] }
        let traceparents = headers[values: .traceparent]
        if traceparents.count == 1, let traceID = traceID(ofTraceparent: traceparents[0]) { return traceID }
        return nil
    }

    /// Whether an `x-request-id` value may be logged as the request's id.
    static func isAcceptable(_ value: String) -> Bool {
        let bytes = value.utf8
        return !bytes.isEmpty && bytes.count <= maxLength && bytes.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// The trace-id of a `traceparent` header as the W3C Trace Context spec (level 1)
    /// defines it: `version-traceid-parentid-flags`, lowercase hex, version `ff` and
    /// all-zero ids invalid; version `00` exactly 55 characters, a later version at least
    /// that, with a `-` after the flags if longer. `nil` when it is invalid.
    static func traceID(ofTraceparent value: String) -> String? {
        let bytes = Array(value.utf8)
        guard bytes.count >= 55, bytes[2] == dash, bytes[35] == dash, bytes[52] == dash else { return nil }
        let version = bytes[0..<2]
        guard isLowerHex(version), version != [UInt8(ascii: "f"), UInt8(ascii: "f")] else { return nil }
        if version == [UInt8(ascii: "0"), UInt8(ascii: "0")] {
            guard bytes.count == 55 else { return nil }
        } else if bytes.count > 55 {
            guard bytes[55] == dash else { return nil }
        }
        let traceID = bytes[3..<35]
        let parentID = bytes[36..<52]
        guard isLowerHex(traceID), isLowerHex(parentID), isLowerHex(bytes[53..<55]),
            !isAllZeros(traceID), !isAllZeros(parentID)
        else { return nil }
        return String(decoding: traceID, as: UTF8.self)
    }

    /// The id of a request that brought none: Hummingbird's own id for it (a random prefix
    /// per process and a counter, so unique across the nodes of a cluster) padded to 32
    /// lowercase hex digits, the shape of a W3C trace-id.
    static func generated(from hummingbirdID: String) -> String {
        let digits = hummingbirdID.lowercased()
        guard digits.utf8.count < 32 else { return digits }
        return String(repeating: "0", count: 32 - digits.utf8.count) + digits
    }

    private static let dash = UInt8(ascii: "-")

    private static func isLowerHex(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    private static func isAllZeros(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.allSatisfy { $0 == UInt8(ascii: "0") }
    }
}
