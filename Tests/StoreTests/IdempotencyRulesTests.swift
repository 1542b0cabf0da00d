import Foundation
import Testing

@testable import Store

/// ``IdempotentSubmit`` as a value: which header values are keys, and what a stored record
/// decides, with no store at all.
@Suite("Idempotency rules, as values")
struct IdempotencyRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func submit(_ fingerprint: String = "f1", retention: TimeInterval = 3600) throws -> IdempotentSubmit {
        IdempotentSubmit(key: try IdempotencyKey(header: "k"), fingerprint: fingerprint, retention: retention)
    }

    func stored(
        _ fingerprint: String = "f1", age: TimeInterval = 60, jobExists: Bool = true, finishedAgo: TimeInterval? = nil
    ) -> IdempotentSubmit.Stored {
        IdempotentSubmit.Stored(
            fingerprint: fingerprint, jobID: "j1", createdAt: now.addingTimeInterval(-age), jobExists: jobExists,
            jobCompletedAt: finishedAgo.map { now.addingTimeInterval(-$0) })
    }

    @Test("a key is 1 to 255 printable ASCII characters, with no space at either end")
    func headerValues() throws {
        #expect(try IdempotencyKey(header: "a").value == "a")
        #expect(try IdempotencyKey(header: String(repeating: "x", count: 255)).value.count == 255)
        #expect(try IdempotencyKey(header: "order 12/~!{}").value == "order 12/~!{}")
        #expect(throws: InvalidIdempotencyKey.empty) { try IdempotencyKey(header: "") }
        #expect(throws: InvalidIdempotencyKey.tooLong(256)) {
            try IdempotencyKey(header: String(repeating: "x", count: 256))
        }
        for bad in ["é", "a\tb", "a\u{7F}", " a", "a ", "ключ"] {
            #expect(throws: InvalidIdempotencyKey.notPrintable, "\(bad)") { try IdempotencyKey(header: bad) }
        }
        // Every refusal names the header.
        for error in [InvalidIdempotencyKey.empty, .tooLong(300), .notPrintable, .repeated] {
            #expect(error.description.contains("'Idempotency-Key'"))
        }
        #expect(IdempotencyKeyReused().description.contains("'Idempotency-Key'"))
    }

    @Test("no record is fresh; the same request replays; another is a mismatch")
    func decisions() throws {
        let submit = try submit()
        #expect(submit.decide(nil, now: now) == .fresh)
        #expect(submit.decide(stored(), now: now) == .replay(jobID: "j1"))
        #expect(submit.decide(stored("f2"), now: now) == .mismatch)
        // A job that still runs, or finished within the retention, is replayed, FAILED or not.
        #expect(submit.decide(stored(age: 7200, finishedAgo: 3599), now: now) == .replay(jobID: "j1"))
    }

    @Test("a record past 24 hours, or whose job is gone or expired, is fresh again, whatever its fingerprint")
    func staleRecords() throws {
        let submit = try submit()
        #expect(submit.decide(stored(age: IdempotentSubmit.window - 1), now: now) == .replay(jobID: "j1"))
        #expect(submit.decide(stored(age: IdempotentSubmit.window), now: now) == .fresh)
        #expect(submit.decide(stored("f2", age: IdempotentSubmit.window + 1), now: now) == .fresh)
        #expect(submit.decide(stored(jobExists: false), now: now) == .fresh)
        #expect(submit.decide(stored("f2", jobExists: false), now: now) == .fresh)
        #expect(submit.decide(stored(finishedAgo: 3600), now: now) == .fresh)
        #expect(IdempotentSubmit.expiry(now: now) == now.addingTimeInterval(-86_400))
    }

    @Test("the fingerprint is the parts' content, not their order")
    func fingerprints() {
        let one = IdempotentSubmit.fingerprint(of: ["route": "v2", "model": "m", "parameters": #"{"prompt":"x"}"#])
        let same = IdempotentSubmit.fingerprint(of: ["parameters": #"{"prompt":"x"}"#, "model": "m", "route": "v2"])
        #expect(one == same)
        #expect(one.count == 64)
        #expect(
            one != IdempotentSubmit.fingerprint(of: ["route": "v1", "model": "m", "parameters": #"{"prompt":"x"}"#]))
        #expect(
            one
                != IdempotentSubmit.fingerprint(of: [
                    "route": "v2", "model": "m", "parameters": #"{"prompt":"x"}"#, "webhook": "https://h.example/",
                ]))
    }
}
