import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Job lifecycle state machine")
struct JobStateTests {
    let t0 = Date(timeIntervalSince1970: 1000)

    @Test("claim moves QUEUED to PROCESSING and counts the attempt")
    func claim() throws {
        var state = JobState(maxAttempts: 3)
        try state.apply(.claim(worker: "w1", leaseUntil: t0))
        #expect(state.status == .processing)
        #expect(state.attempts == 1)
        #expect(state.workerID == "w1")
        #expect(throws: JobState.Refusal.invalidTransition(from: .processing)) {
            try state.apply(.claim(worker: "w2", leaseUntil: t0))
        }
    }

    @Test("only the lease holder can renew, complete, fail or release")
    func holderOnly() throws {
        var state = JobState(maxAttempts: 3)
        try state.apply(.claim(worker: "w1", leaseUntil: t0))
        for event: JobState.Event in [
            .renew(worker: "w2", leaseUntil: t0), .complete(worker: "w2"),
            .fail(worker: "w2", error: "x", code: .contentBlocked),
            .release(worker: "w2"),
        ] {
            var copy = state
            #expect(throws: JobState.Refusal.notLeaseHolder) { try copy.apply(event) }
            #expect(copy == state)
        }
    }

    @Test("complete and fail are terminal")
    func terminal() throws {
        var completed = JobState(maxAttempts: 3)
        try completed.apply(.claim(worker: "w", leaseUntil: t0))
        try completed.apply(.complete(worker: "w"))
        #expect(completed.status == .completed)
        #expect(completed.workerID == nil)
        #expect(throws: JobState.Refusal.invalidTransition(from: .completed)) {
            try completed.apply(.fail(worker: "w", error: "late", code: .contentBlocked))
        }

        var failed = JobState(maxAttempts: 3)
        try failed.apply(.claim(worker: "w", leaseUntil: t0))
        try failed.apply(.fail(worker: "w", error: "blocked", code: .contentBlocked))
        #expect(failed.status == .failed)
        #expect(failed.error == "blocked")
        #expect(throws: JobState.Refusal.invalidTransition(from: .failed)) {
            try failed.apply(.complete(worker: "w"))
        }
    }

    @Test("an expired lease requeues the job until the attempts run out, then fails it")
    func leaseExpiry() throws {
        var state = JobState(maxAttempts: 2)
        try state.apply(.claim(worker: "w1", leaseUntil: t0))
        #expect(throws: JobState.Refusal.leaseStillValid) {
            try state.apply(.leaseExpired(now: t0.addingTimeInterval(-1)))
        }
        try state.apply(.leaseExpired(now: t0))
        #expect(state.status == .queued)
        #expect(state.workerID == nil)

        try state.apply(.claim(worker: "w2", leaseUntil: t0.addingTimeInterval(10)))
        #expect(state.attempts == 2)
        try state.apply(.leaseExpired(now: t0.addingTimeInterval(10)))
        #expect(state.status == .failed)
        #expect(state.error == JobState.workerLostError(attempts: 2))
    }

    @Test("release hands the job back without counting the attempt")
    func release() throws {
        var state = JobState(maxAttempts: 3)
        try state.apply(.claim(worker: "w1", leaseUntil: t0))
        try state.apply(.release(worker: "w1"))
        #expect(state.status == .queued)
        #expect(state.attempts == 0)
    }
}
