import Testing

@testable import NanoBananaAPI

@Suite("JSON bodies")
struct JSONParsingTests {
    func duplicate(_ json: String) -> String? {
        do {
            _ = try JSONValue(parsing: Array(json.utf8))
            return nil
        } catch {
            if case .duplicateField(let name) = error { return name }
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test("a key named twice in any object is refused, by its decoded name")
    func duplicates() {
        #expect(duplicate(#"{"a":1,"a":2}"#) == "a")
        #expect(duplicate(#"{"a":1,"\u0061":2}"#) == "a")
        #expect(duplicate(#"{"x":{"b":[1,{"c":1,"c":2}]}}"#) == "c")
        #expect(duplicate(#"[{"a":1},{"a":2,"b":{"a":3},"a":4}]"#) == "a")
        #expect(duplicate(#" { "k" : "v" , "k" : null } "#) == "k")
    }

    @Test("the same key in different objects, and keys' text inside values, are not duplicates")
    func notDuplicates() {
        #expect(duplicate(#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#) == nil)
        #expect(duplicate(#"{"a":"\"a\":1,","b":["a","a"],"c":"{\"c\":1}"}"#) == nil)
        #expect(duplicate(#"{"\\":1,"\\\"":2}"#) == nil)
        #expect(duplicate(#""a""#) == nil)
    }

    @Test("invalid JSON is malformed before any key is looked at")
    func malformed() {
        #expect(throws: ParameterError.malformedJSON) { try JSONValue(parsing: Array(#"{"a":1,"a""#.utf8)) }
    }

    @Test("a client's text is quoted back whole up to 64 characters, else cut there with an ellipsis")
    func echo() {
        #expect(ErrorBody.echo("short") == "short")
        #expect(ErrorBody.echo(String(repeating: "é", count: 64)) == String(repeating: "é", count: 64))
        #expect(ErrorBody.echo(String(repeating: "x", count: 5_000_000)) == String(repeating: "x", count: 64) + "…")
    }
}
