import HTTPTypes
import Testing

@testable import Server

@Suite("Request ids from x-request-id and traceparent")
struct RequestCorrelationTests {
    static let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    static let traceparent = "00-\(trace)-00f067aa0ba902b7-01"

    @Test("a usable x-request-id is taken as it is, before any traceparent")
    func requestIDFirst() {
        #expect(RequestCorrelation.incoming([.requestID: "abc-123_X:y/z"]) == "abc-123_X:y/z")
        #expect(RequestCorrelation.incoming([.requestID: "r1", .traceparent: Self.traceparent]) == "r1")
        #expect(RequestCorrelation.incoming([.requestID: String(repeating: "a", count: 128)])?.count == 128)
        #expect(RequestCorrelation.incoming([:]) == nil)
        #expect(!RequestCorrelation.isAcceptable("nul\u{0}"))  // HTTPFields would not even carry it
    }

    @Test(
        "an x-request-id that is empty, too long, repeated or not visible ASCII is ignored",
        arguments: ["", String(repeating: "a", count: 129), "has space", "tab\there", "é", "line\nbreak"])
    func unusableRequestID(value: String) {
        #expect(!RequestCorrelation.isAcceptable(value))
        #expect(RequestCorrelation.incoming([.requestID: value]) == nil)
        #expect(RequestCorrelation.incoming([.requestID: value, .traceparent: Self.traceparent]) == Self.trace)
    }

    @Test("two x-request-id headers are ignored, and so are two traceparents")
    func repeated() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .requestID, value: "a"))
        fields.append(HTTPField(name: .requestID, value: "b"))
        #expect(RequestCorrelation.incoming(fields) == nil)
        fields = [.traceparent: Self.traceparent]
        fields.append(HTTPField(name: .traceparent, value: Self.traceparent))
        #expect(RequestCorrelation.incoming(fields) == nil)
    }

    @Test(
        "a valid traceparent gives its trace-id",
        arguments: [
            "00-\(trace)-00f067aa0ba902b7-01", "00-\(trace)-00f067aa0ba902b7-00",
            // A later version may be longer, with a dash after the flags.
            "01-\(trace)-00f067aa0ba902b7-09", "cc-\(trace)-00f067aa0ba902b7-01-what-the-future-will-bring",
        ])
    func validTraceparent(value: String) {
        #expect(RequestCorrelation.traceID(ofTraceparent: value) == Self.trace)
    }

    @Test(
        "an invalid traceparent is ignored",
        arguments: [
            "", "00-bad", "ff-\(trace)-00f067aa0ba902b7-01",  // version ff is forbidden
            "00-\(trace.uppercased())-00f067aa0ba902b7-01",  // uppercase hex
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace-id
            "00-\(trace)-0000000000000000-01",  // all-zero parent-id
            "00-\(trace)-00f067aa0ba902b7-01-extra",  // version 00 is exactly 55 characters
            "01-\(trace)-00f067aa0ba902b7-01x",  // longer, but no dash after the flags
            "00_\(trace)-00f067aa0ba902b7-01", "00-\(trace)-00f067aa0ba902b7-0g", "0-\(trace)-00f067aa0ba902b7-011",
        ])
    func invalidTraceparent(value: String) {
        #expect(RequestCorrelation.traceID(ofTraceparent: value) == nil)
        #expect(RequestCorrelation.incoming([.traceparent: value]) == nil)
    }

    @Test("a generated id has the shape of a trace-id")
    func generated() {
        #expect(RequestCorrelation.generated(from: "a1b2") == "0000000000000000000000000000a1b2")
        let full = String(repeating: "f", count: 32)
        #expect(RequestCorrelation.generated(from: full) == full)
    }
}
