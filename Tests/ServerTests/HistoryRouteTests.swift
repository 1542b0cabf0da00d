import Foundation
import HTTPTypes
import HummingbirdTesting
import NanoBananaAPI
import Store
import Testing

@testable import Server

@Suite("History routes: GET /v2/requests and /v2/requests/{id}/detail, and the segmind SDK's paths")
struct HistoryRouteTests {
    static let png =
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR4nGM4IScHRwzEcQCxYxBBO0tjggAAAABJRU5ErkJggg=="
    /// A reference image whose data URL is longer than the history keeps.
    static let longPNG = "data:image/png;base64," + String(repeating: "AAAA", count: 100)

    /// Submits and waits for the request to finish; returns its id.
    static func run(
        _ json: String, server: TestServer, client: some TestClientProtocol, key: String? = nil
    )
        async throws -> String
    {
        let response = try await client.post("/v2/nano-banana-2", json: json, key: key ?? server.key)
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        let id = try response.decoded(SubmitBody.self).requestID
        _ = try await server.components.waitUntilFinished(jobID: id, timeout: .seconds(300))
        return id
    }

    @Test("the key's requests, newest first, with the segmind SDK's row fields; detail shows one")
    func rows() async throws {
        try await TestServer.run { server, client in
            let done = try await Self.run(
                #"{"prompt":"a 'first' sign","output_resolution":"512px","image_urls":["\#(Self.png)"]}"#,
                server: server, client: client)
            server.clock.advance(by: 1)
            let failed = try await Self.run(
                #"{"prompt":"forbidden","image_urls":["\#(Self.longPNG)"]}"#, server: server, client: client)
            let other = try await server.components.keys.create(name: "other").secret
            let theirs = try await Self.run(#"{"prompt":"x"}"#, server: server, client: client, key: other)

            let response = try await client.get("/v2/requests", key: server.key)
            #expect(response.status == .ok)
            let page = try response.decoded(HistoryPageBody.self)
            #expect(page.data.map(\.requestID) == [failed, done])
            #expect(page.page == 1 && page.perPage == 20 && page.total == 2 && page.totalPages == 1)

            let failedRow = page.data[0]
            #expect(failedRow.modelStatus == .failed && failedRow.status == .failed)
            #expect(failedRow.error?.contains("Content blocked") == true)
            #expect(failedRow.generationURL == nil && failedRow.creditsDeduction == 0)
            // The long data: URL is shortened to a marker; the short one is kept.
            guard case .object(let failedBody) = failedRow.requestBody,
                case .array(let references) = failedBody["image_urls"]
            else {
                Issue.record("no request body: \(String(describing: failedRow.requestBody))")
                return
            }
            #expect(references == [.string("data:image/png;base64,<omitted: 300 bytes>")])

            let doneRow = page.data[1]
            #expect(doneRow.modelName == "nano-banana-2" && doneRow.modelStatus == .completed)
            #expect(doneRow.creditsDeduction == 45)
            #expect(doneRow.error == nil && doneRow.completedAt != nil && doneRow.latencyMilliseconds != nil)
            guard case .object(let doneBody) = doneRow.requestBody else {
                Issue.record("no request body")
                return
            }
            #expect(doneBody["image_urls"] == .array([.string(Self.png)]))
            #expect(doneBody["prompt"] == .string("a 'first' sign"))
            #expect(doneBody["output_resolution"] == .string("512px") && doneBody["seed"] == .integer(420_875))
            let link = try #require(doneRow.generationURL)
            let image = try await client.get(pathAndQuery(link), key: nil)
            #expect(image.status == .ok && image.headers[.contentType] == "image/jpeg")

            // The raw JSON writes every field, null where it does not apply.
            let raw = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            let first = try #require((raw?["data"] as? [[String: Any]])?.first)
            #expect(first["generation_url"] is NSNull && first["latency_ms"] is NSNumber)

            for path in ["/v2/requests/\(done)/detail", "/inference-request/request-history/\(done)"] {
                let detail = try await client.get(path, key: server.key)
                #expect(detail.status == .ok, "\(path)")
                #expect(try detail.decoded(HistoryRowBody.self) == doneRow, "\(path)")
            }
            let alias = try await client.get("/inference-request/request-history?per_page=1", key: server.key)
            #expect(try alias.decoded(HistoryPageBody.self).data.map(\.requestID) == [failed])
            // Another key's request is unknown here, and missing from the list.
            for path in ["/v2/requests/\(theirs)/detail", "/inference-request/request-history/\(theirs)"] {
                #expect(try await client.get(path, key: server.key).status == .notFound, "\(path)")
            }
            #expect(try await client.get("/v2/requests/\(theirs)/detail", key: other).status == .ok)
            #expect(try await client.get("/v2/requests", key: nil).status == .unauthorized)
        }
    }

    @Test("pages, filters and sorting from the query")
    func query() async throws {
        try await TestServer.run { server, client in
            let firstDay = Self.day(server.clock.now())
            var ids: [String] = []
            for prompt in ["a", "b", "forbidden", "c"] {
                ids.append(try await Self.run(#"{"prompt":"\#(prompt)"}"#, server: server, client: client))
                server.clock.advance(by: 1)
            }
            func listed(_ query: String) async throws -> [String] {
                let response = try await client.get("/v2/requests?\(query)", key: server.key)
                #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
                return try response.decoded(HistoryPageBody.self).data.map(\.requestID)
            }
            #expect(try await listed("per_page=3") == [ids[3], ids[2], ids[1]])
            #expect(try await listed("per_page=3&page=2") == [ids[0]])
            #expect(try await listed("page=9").isEmpty)
            #expect(try await listed("sort_order=asc&per_page=2") == [ids[0], ids[1]])
            #expect(try await listed("status=FAILED") == [ids[2]])
            #expect(try await listed("status=COMPLETED&sort_by=credits_deduction") == [ids[3], ids[1], ids[0]])
            #expect(try await listed("status=PENDING").isEmpty)
            #expect(try await listed("model_name=banana").count == 4)
            #expect(try await listed("model_name=flux").isEmpty)
            let lastDay = Self.day(server.clock.now())
            #expect(try await listed("from_date=\(firstDay)&to_date=\(lastDay)").count == 4)
            #expect(try await listed("to_date=2000-01-01").isEmpty)
            #expect(try await listed("from_date=2999-01-01&to_date=2000-01-01").isEmpty)
            let page = try await client.get("/v2/requests?per_page=3", key: server.key).decoded(HistoryPageBody.self)
            #expect(page.total == 4 && page.totalPages == 2)
        }
    }

    @Test(
        "a bad query value is a 400 naming the parameter",
        arguments: [
            ("page=0", "'page'"), ("page=x", "'page'"), ("per_page=101", "'per_page'"), ("per_page=", "'per_page'"),
            ("status=DONE", "'status'"), ("status=completed", "'status'"), ("from_date=2026-02-30", "'from_date'"),
            ("to_date=2026-1-01", "'to_date'"), ("sort_by=created_at", "'sort_by'"), ("sort_order=up", "'sort_order'"),
            ("model_name=", "'model_name'"), ("page=1&page=2", "'page'"), ("user_id=alice", "'user_id'"),
            ("key=", "'key'"),
        ])
    func badQuery(query: String, named: String) async throws {
        try await TestServer.run { server, client in
            let response = try await client.get("/v2/requests?\(query)", key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage?.contains(named) == true, "\(response.errorMessage ?? "")")
        }
    }

    @Test("an admin key sees another key's requests with key=; any other key gets 403")
    func adminKey() async throws {
        try await TestServer.run { server, client in
            let alice = try await server.components.keys.create(name: "alice")
            let admin = try await server.components.keys.create(APIKeySpec(name: "root", role: .admin)).secret
            let id = try await Self.run(#"{"prompt":"x"}"#, server: server, client: client, key: alice.secret)
            for reference in ["alice", alice.key.id] {
                let page = try await client.get("/v2/requests?key=\(reference)", key: admin)
                #expect(try page.decoded(HistoryPageBody.self).data.map(\.requestID) == [id])
                let detail = try await client.get("/v2/requests/\(id)/detail?key=\(reference)", key: admin)
                #expect(detail.status == .ok)
            }
            #expect(try await client.get("/v2/requests", key: admin).decoded(HistoryPageBody.self).data.isEmpty)
            #expect(try await client.get("/v2/requests/\(id)/detail", key: admin).status == .notFound)
            #expect(try await client.get("/v2/requests?key=nobody", key: admin).status == .notFound)
            let refused = try await client.get("/v2/requests?key=root", key: server.key)
            #expect(refused.status == .forbidden && refused.errorMessage?.contains("admin") == true)
            #expect(try await client.get("/v2/requests/\(id)/detail?key=alice", key: server.key).status == .forbidden)
            #expect(try await client.get("/v2/requests/\(id)/detail?page=1", key: admin).status == .badRequest)
        }
    }

    @Test("past the retention a request leaves the history, before the sweeper deletes it")
    func retention() async throws {
        try await TestServer.run(configure: { $0.retention = 60 }) { server, client in
            let id = try await Self.run(#"{"prompt":"x"}"#, server: server, client: client)
            #expect(try await client.get("/v2/requests", key: server.key).decoded(HistoryPageBody.self).total == 1)
            server.clock.advance(by: 61)
            #expect(try await client.get("/v2/requests", key: server.key).decoded(HistoryPageBody.self).total == 0)
            #expect(try await client.get("/v2/requests/\(id)/detail", key: server.key).status == .notFound)
        }
    }

    @Test("dates are read as real UTC days")
    func days() throws {
        #expect(try HistoryParameters.day("d", "1970-01-01") == Date(timeIntervalSince1970: 0))
        #expect(try HistoryParameters.day("d", "2024-02-29") == Date(timeIntervalSince1970: 1_709_164_800))
        #expect(try HistoryParameters.day("d", "0001-01-01") == Date(timeIntervalSince1970: -62_135_596_800))
        for bad in ["2023-02-29", "2024-13-01", "2024-00-10", "24-01-01", "2024-01-01T00:00:00Z", "２０２４-01-01"] {
            #expect(throws: APIError.self, "\(bad)") { try HistoryParameters.day("d", bad) }
        }
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }
}
