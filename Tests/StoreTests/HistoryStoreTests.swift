import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Request history, for every store")
struct HistoryStoreTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    func job(
        _ id: String, key: String = "key_a", model: String = "nano-banana-2", cost: Int = 0, body: String? = nil
    )
        -> NewJob
    {
        NewJob(
            id: id, keyID: key, model: model, parameters: #"{"prompt":"x"}"#, seed: 1, maxAttempts: 3, cost: cost,
            metered: false, requestBody: body)
    }

    func query(_ key: String = "key_a", offset: Int = 0, limit: Int = 100) -> HistoryQuery {
        HistoryQuery(keyID: key, finishedAfter: .distantPast, offset: offset, limit: limit)
    }

    func ids(_ page: HistoryPage) -> [String] { page.rows.map(\.record.id) }

    @Test(
        "a key's requests come newest first, ties by submission, in pages that neither repeat nor skip",
        arguments: TestBackend.all)
    func pages(backend: TestBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let stores = try await backend.stores(clock: clock)
        // Three submitted in the same instant, then two later; another key's between them.
        for id in ["a", "b", "c"] { _ = try await stores.jobs.enqueue(job(id)) }
        _ = try await stores.jobs.enqueue(job("other", key: "key_b"))
        for id in ["d", "e"] {
            clock.advance(by: 1)
            _ = try await stores.jobs.enqueue(job(id))
        }
        let everything = try await stores.history.history(query())
        #expect(ids(everything) == ["e", "d", "c", "b", "a"])
        #expect(everything.total == 5)
        var paged: [String] = []
        for page in 0..<3 {
            let rows = try await stores.history.history(query(offset: page * 2, limit: 2))
            #expect(rows.total == 5)
            paged += ids(rows)
        }
        #expect(paged == ["e", "d", "c", "b", "a"])
        #expect(try await stores.history.history(query(offset: 10, limit: 2)) == HistoryPage(rows: [], total: 5))
        var oldest = query()
        oldest.order = .ascending
        #expect(ids(try await stores.history.history(oldest)) == ["a", "b", "c", "d", "e"])
        #expect(ids(try await stores.history.history(query("key_b"))) == ["other"])
        #expect(try await stores.history.history(query("key_nobody")).total == 0)
    }

    @Test(
        "status, model and date filters; expired requests are left out, unfinished ones never",
        arguments: TestBackend.all)
    func filters(backend: TestBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let stores = try await backend.stores(clock: clock)
        _ = try await stores.jobs.enqueue(job("done", model: "nano-banana-2"))
        _ = try await stores.jobs.enqueue(job("failed", model: "nano-banana-pro"))
        _ = try await stores.jobs.enqueue(job("running", model: "nano-banana-pro"))
        _ = try await stores.jobs.claim(worker: "w", lease: 3600)
        #expect(try await stores.jobs.complete(jobID: "done", worker: "w", output: sampleOutput, image: [1]))
        _ = try await stores.jobs.claim(worker: "w", lease: 3600)
        #expect(try await stores.jobs.fail(jobID: "failed", worker: "w", error: "no", code: .contentBlocked))
        _ = try await stores.jobs.claim(worker: "w", lease: 3600)
        clock.advance(by: 86_400)
        _ = try await stores.jobs.enqueue(job("queued", model: "other-model"))

        func listed(_ change: (inout HistoryQuery) -> Void) async throws -> [String] {
            var query = query()
            change(&query)
            return ids(try await stores.history.history(query))
        }
        #expect(try await listed { $0.status = .completed } == ["done"])
        #expect(try await listed { $0.status = .failed } == ["failed"])
        #expect(try await listed { $0.status = .pending } == ["queued", "running"])
        #expect(try await listed { $0.modelContains = "pro" } == ["running", "failed"])
        #expect(try await listed { $0.modelContains = "banana-2" } == ["done"])
        #expect(try await listed { $0.modelContains = "PRO" } == [])
        #expect(try await listed { $0.modelContains = "%" } == [])
        #expect(try await listed { $0.createdFrom = Self.start.addingTimeInterval(1) } == ["queued"])
        #expect(
            try await listed { $0.createdBefore = Self.start.addingTimeInterval(1) } == ["running", "failed", "done"])
        #expect(
            try await listed {
                $0.createdFrom = Self.start.addingTimeInterval(1)
                $0.createdBefore = Self.start
            } == [])
        // Finished a day ago: past a retention of an hour, but the running one and the new one stay.
        #expect(try await listed { $0.finishedAfter = clock.now().addingTimeInterval(-3600) } == ["queued", "running"])
    }

    @Test("sorting by model or credits, ties newest first; a FAILED request costs 0", arguments: TestBackend.all)
    func sorting(backend: TestBackend) async throws {
        let clock = ManualWallClock(Self.start)
        let stores = try await backend.stores(clock: clock)
        for (id, model, cost) in [("a", "m-b", 10), ("b", "m-a", 30), ("c", "m-b", 20), ("d", "m-a", 40)] {
            clock.advance(by: 1)
            _ = try await stores.jobs.enqueue(job(id, model: model, cost: cost))
        }
        _ = try await stores.jobs.claim(worker: "w", lease: 3600)
        _ = try await stores.jobs.claim(worker: "w", lease: 3600)
        #expect(try await stores.jobs.fail(jobID: "b", worker: "w", error: "no", code: .contentBlocked))

        func sorted(_ field: HistoryQuery.SortField, _ order: HistoryQuery.SortOrder) async throws -> [String] {
            var query = query()
            query.sort = field
            query.order = order
            return ids(try await stores.history.history(query))
        }
        #expect(try await sorted(.model, .ascending) == ["d", "b", "c", "a"])
        #expect(try await sorted(.model, .descending) == ["c", "a", "d", "b"])
        #expect(try await sorted(.credits, .descending) == ["d", "c", "a", "b"])
        #expect(try await sorted(.credits, .ascending) == ["b", "a", "c", "d"])
        #expect(try await sorted(.created, .descending) == ["d", "c", "b", "a"])
    }

    @Test("a request's body is kept after it ends; one stored without a body reads nil", arguments: TestBackend.all)
    func bodies(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock(Self.start))
        let body = #"{"image_urls":["data:image/png;base64,<omitted: 9 bytes>"],"prompt":"x"}"#
        _ = try await stores.jobs.enqueue(job("a", body: body))
        _ = try await stores.jobs.enqueue(job("b"))
        _ = try await stores.jobs.claim(worker: "w", lease: 30)
        #expect(try await stores.jobs.complete(jobID: "a", worker: "w", output: sampleOutput, image: [1]))
        let row = try #require(try await stores.history.historyRow(id: "a"))
        #expect(row.requestBody == body)
        #expect(row.record.status == .completed && row.record.output == sampleOutput)
        #expect(try await stores.history.historyRow(id: "b")?.requestBody == nil)
        #expect(try await stores.history.historyRow(id: "nope") == nil)
        #expect(try await stores.history.history(query()).rows.first { $0.record.id == "a" }?.requestBody == body)
    }

    @Test("the page is served by the (key_id, created_at) index, with no sort", arguments: TestBackend.all)
    func indexed(backend: TestBackend) async throws {
        let stores = try await backend.stores(clock: ManualWallClock(Self.start))
        for index in 0..<20 { _ = try await stores.jobs.enqueue(job("j\(index)", key: "key_\(index % 4)")) }
        var query = query()
        query.createdFrom = Self.start
        let listing = HistoryListing(query: query, substringPosition: backend == .sqlite ? "instr" : "strpos")
        // The values inlined (plain test values), as EXPLAIN takes no parameters.
        let conditions = listing.conditions { value in
            switch value {
            case .text(let text): "'\(text)'"
            case .real(let real): String(real)
            }
        }
        let sql = "SELECT id FROM jobs WHERE \(conditions) ORDER BY \(listing.orderBy) LIMIT 20"
        let plan = try await stores.plan(sql).joined(separator: "\n")
        #expect(plan.contains("jobs_by_key_created"), "\(plan)")
        #expect(!plan.contains("TEMP B-TREE") && !plan.contains("Sort"), "the default order needs no sort: \(plan)")
    }
}
