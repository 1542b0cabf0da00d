import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NanoBananaAPI
import Store
import Testing

@testable import Server

@Suite("Uploads: POST /upload-asset, signed links, and links in image_urls read from the store")
struct UploadRouteTests {
    static let png = HistoryRouteTests.png

    static func upload(_ urls: [String], key: String, client: some TestClientProtocol) async throws -> TestResponse {
        let body = try JSONEncoder().encode(UploadRequestBody(dataURLs: urls))
        return try await client.post("/upload-asset", json: String(decoding: body, as: UTF8.self), key: key)
    }

    @Test("an upload answers signed links that serve the file and work in image_urls, on loopback too")
    func uploadAndUse() async throws {
        try await TestServer.run { server, client in
            let response = try await Self.upload([Self.png, Self.png], key: server.key, client: client)
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            let body = try response.decoded(UploadedFilesBody.self)
            #expect(body.fileURLs.count == 2 && body.message == "Files uploaded successfully")
            let link = try #require(body.fileURLs.first)
            #expect(link.hasPrefix("http://") && link.contains("/v2/files/upload-") && link.contains(".png?expires="))
            #expect(body.fileURLs[0] != body.fileURLs[1])
            // The link is the permission: no key.
            let file = try await client.get(pathAndQuery(link), key: nil)
            #expect(file.status == .ok && file.headers[.contentType] == "image/png")
            #expect(
                file.bytes == Array(Data(base64Encoded: String(Self.png.dropFirst("data:image/png;base64,".count)))!))

            // The link names the server's own loopback address, which a fetch would refuse:
            // it is read from the store, and the reference changes the picture.
            let prompt = #""prompt":"a 'ref' sign","output_resolution":"512px""#
            let with = try await HistoryRouteTests.run(
                #"{\#(prompt),"image_urls":["\#(link)"]}"#, server: server, client: client)
            let without = try await HistoryRouteTests.run(#"{\#(prompt)}"#, server: server, client: client)
            let withJob = try #require(try await server.components.jobs.job(id: with))
            #expect(withJob.status == .completed, "\(withJob.state.error ?? "")")
            let withImage = try await server.components.jobs.image(key: try #require(withJob.output?.blobKey))
            let withoutJob = try #require(try await server.components.jobs.job(id: without))
            let withoutImage = try await server.components.jobs.image(key: try #require(withoutJob.output?.blobKey))
            #expect(withImage != nil && withImage != withoutImage)
            // A key other than the uploader's may use the link too: it is a bearer capability.
            let other = try await server.components.keys.create(name: "other").secret
            let theirs = try await HistoryRouteTests.run(
                #"{\#(prompt),"image_urls":["\#(link)"]}"#, server: server, client: client, key: other)
            #expect(try await server.components.jobs.job(id: theirs)?.status == .completed)
        }
    }

    @Test(
        "a bad upload is a 400 naming the entry",
        arguments: [
            (#"{"data_urls":["https://example.com/a.png"]}"#, "data_urls[0]"),
            (#"{"data_urls":["data:image/png;base64,AAAAAAAA"]}"#, "data_urls[0]"),
            (#"{"data_urls":["data:image/gif;base64,R0lGODlh"]}"#, "data_urls[0]"),
            (#"{"data_urls":[7]}"#, "data_urls[0]"),
            (#"{"data_urls":[]}"#, "data_urls"),
            (#"{"urls":[]}"#, "urls"),
            (#"{}"#, "data_urls"),
            (#"[]"#, "data_urls"),
        ])
    func badUpload(json: String, named: String) async throws {
        try await TestServer.run { server, client in
            let response = try await client.post("/upload-asset", json: json, key: server.key)
            #expect(response.status == .badRequest)
            #expect(response.errorMessage?.contains(named) == true, "\(response.errorMessage ?? "")")
        }
    }

    @Test("at most 14 files at once, as image_urls; an upload needs a key")
    func counts() async throws {
        try await TestServer.run { server, client in
            let many = try await Self.upload(Array(repeating: Self.png, count: 15), key: server.key, client: client)
            #expect(many.status == .badRequest && many.errorMessage?.contains("14") == true)
            #expect(
                try await Self.upload(Array(repeating: Self.png, count: 14), key: server.key, client: client).status
                    == .ok)
            #expect(try await Self.upload([Self.png], key: "nb_wrong", client: client).status == .unauthorized)
        }
    }

    @Test("the quota is a 413 past it; the sweep frees it as the links expire, and then they are refused")
    func quota() async throws {
        try await TestServer.run(configure: {
            $0.uploadQuota = 100
            $0.retention = 60
        }) { server, client in
            let first = try await Self.upload([Self.png], key: server.key, client: client)
            #expect(first.status == .ok)
            let link = try #require(try first.decoded(UploadedFilesBody.self).fileURLs.first)
            let refused = try await Self.upload([Self.png], key: server.key, client: client)
            #expect(refused.status == .contentTooLarge)
            #expect(refused.errorMessage?.contains("quota of 100 bytes") == true, "\(refused.errorMessage ?? "")")
            // Another key has its own quota.
            let other = try await server.components.keys.create(name: "other").secret
            #expect(try await Self.upload([Self.png], key: other, client: client).status == .ok)

            server.clock.advance(by: 61)
            let sweeper = RetentionSweeper(
                jobs: server.components.jobs, uploads: server.components.backend.uploads, cache: nil,
                clock: server.clock, retention: 60, interval: 60, logger: Logger(label: "test"))
            try await sweeper.sweepOnce()
            let keyID = try #require(try await server.components.keys.authenticate(secret: server.key)).id
            #expect(try await server.components.backend.uploads.uploadedBytes(keyID: keyID) == 0)
            #expect(try await client.get(pathAndQuery(link), key: nil).status == .notFound)
            let expired = try await client.post(
                "/v2/nano-banana-2", json: #"{"prompt":"x","image_urls":["\#(link)"]}"#, key: server.key)
            #expect(expired.status == .badRequest && expired.errorMessage?.contains("image_urls[0]") == true)
            #expect(try await Self.upload([Self.png], key: server.key, client: client).status == .ok)
        }
    }

    @Test("only links the server signed are its own, whatever host they name")
    func ownLinks() async throws {
        let clock = ManualWallClock()
        let signer = OutputURLSigner(secret: Array(repeating: 1, count: 32))
        let links = OwnFileLinks(signer: signer, clock: clock)
        let path = try signer.signedPath(fileName: "upload-a.png", expires: clock.now().addingTimeInterval(60))
        for base in ["http://127.0.0.1:8080", "https://images.example.com/prefix"] {
            #expect(links.match(URL(string: base + path)!) == .valid(name: "upload-a.png"), "\(base)")
        }
        let other = OutputURLSigner(secret: Array(repeating: 2, count: 32))
        let foreign = try other.signedPath(fileName: "upload-a.png", expires: clock.now().addingTimeInterval(60))
        #expect(links.match(URL(string: "http://127.0.0.1" + foreign)!) == nil)
        #expect(links.match(URL(string: "http://127.0.0.1/v2/files/upload-a.png")!) == nil)
        #expect(
            links.match(URL(string: "http://127.0.0.1/v3/files/upload-a.png?" + path.split(separator: "?")[1])!) == nil)
        #expect(links.match(URL(string: "ftp://127.0.0.1" + path)!) == nil)
        clock.advance(by: 61)
        #expect(links.match(URL(string: "http://127.0.0.1" + path)!) == .expired)
    }

    @Test("the history keeps an upload link in image_urls as it is")
    func historyKeepsLinks() async throws {
        try await TestServer.run { server, client in
            let link = try #require(
                try await Self.upload([Self.png], key: server.key, client: client).decoded(UploadedFilesBody.self)
                    .fileURLs.first)
            let id = try await HistoryRouteTests.run(
                #"{"prompt":"x","image_urls":["\#(link)"]}"#, server: server, client: client)
            let row = try await client.get("/v2/requests/\(id)/detail", key: server.key).decoded(HistoryRowBody.self)
            guard case .object(let body) = row.requestBody else {
                Issue.record("no body")
                return
            }
            #expect(body["image_urls"] == .array([.string(link)]))
        }
    }
}
