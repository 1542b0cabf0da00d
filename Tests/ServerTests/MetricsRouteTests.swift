import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NanoBananaAPI
import Store
import Testing

@testable import Server

/// The Prometheus metrics as an operator scrapes them: who may read them, and that the
/// counters and histograms move as jobs run, on this server alone (every test's server has
/// its own registry, though all run in one process).
@Suite("Metrics")
struct MetricsRouteTests {
    func admin(_ server: TestServer) async throws -> String {
        try await server.components.keys.create(APIKeySpec(name: "root", role: .admin)).secret
    }

    func submit(_ client: any TestClientProtocol, prompt: String, key: String) async throws -> String {
        let response = try await client.post("/v2/nano-banana-2", json: #"{"prompt":"\#(prompt)"}"#, key: key)
        #expect(response.status == .ok)
        return try response.decoded(SubmitBody.self).requestID
    }

    /// Runs every queued job to its end, as a worker of the server would (the test is the
    /// worker, so it knows when each job's metrics are recorded).
    func runQueuedJobs(_ server: TestServer) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let components = server.components
        let runner = JobRunner(
            jobs: components.jobs, models: components.models, hub: components.hub, running: RunningJobs(),
            jobTimeout: 600, metrics: components.jobInstruments, keys: components.keys, logger: logger)
        while let claimed = try await components.jobs.claim(worker: "w", lease: 600) {
            await runner.run(claimed, worker: "w")
        }
    }

    @Test("counters, histograms and credits move as jobs run, labelled by route template, model and engine")
    func countersMove() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let admin = try await admin(server)
            let before = try Scrape(try await client.get("/metrics", key: admin))
            #expect(before.value(MetricName.jobsSubmitted, ["model": "nano-banana-2", "engine": "preview"]) == 0)

            let metered = try await server.components.keys.create(name: "metered", credits: 1000).secret
            var ids: [String] = []
            for prompt in ["one", "two", "three"] {
                ids.append(try await submit(client, prompt: prompt, key: server.key))
            }
            ids.append(try await submit(client, prompt: "paid", key: metered))
            ids.append(try await submit(client, prompt: "forbidden", key: metered))
            try await runQueuedJobs(server)
            #expect(try await client.get("/v2/requests/\(ids[0])/status", key: server.key).status == .ok)
            #expect(try await client.get("/v2/requests/\(ids[4])", key: metered).status == .unprocessableContent)

            let response = try await client.get("/metrics", key: admin)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            let scrape = try Scrape(response)
            let model = ["model": "nano-banana-2", "engine": "preview"]
            #expect(scrape.value(MetricName.jobsSubmitted, model) == 5)
            #expect(scrape.value(MetricName.jobsCompleted, model) == 4)
            #expect(scrape.value(MetricName.jobsFailed, model.merging(["reason": "content_blocked"]) { $1 }) == 1)
            #expect(scrape.value(MetricName.jobsFailed, model.merging(["reason": "timed_out"]) { $1 }) == 0)
            #expect(scrape.value(MetricName.jobsRetried, model) == 0)
            #expect(scrape.value(MetricName.queueTime + "_count", model) == 5)
            #expect(scrape.value(MetricName.inferenceTime + "_count", model) == 4)
            // Only the metered key pays: 1K costs 67 credits, and the blocked job's come back.
            #expect(scrape.value(MetricName.creditsCharged, ["model": "nano-banana-2"]) == 134)
            #expect(scrape.value(MetricName.creditsRefunded, ["model": "nano-banana-2"]) == 67)
            #expect(scrape.value(MetricName.jobsInFlight, [:]) == 0)
            #expect(scrape.value(MetricName.queueDepth, [:]) != nil)

            let submits = ["route": "/v2/{model}", "method": "POST", "status": "200"]
            #expect(scrape.value(MetricName.httpRequests, submits) == 5)
            #expect(scrape.value(MetricName.httpDuration + "_count", submits) == 5)
            let polls = ["route": "/v2/requests/{id}/status", "method": "GET", "status": "200"]
            #expect(scrape.value(MetricName.httpRequests, polls) == 1)
            let failed = ["route": "/v2/requests/{id}", "method": "GET", "status": "422"]
            #expect(scrape.value(MetricName.httpRequests, failed) == 1)
            #expect(!ids.contains { scrape.text.contains($0) }, "a job id in a label")
            let store = server.components.backend.kind
            let enqueues = scrape.value(
                MetricName.storeDuration + "_count", ["store": store, "operation": "enqueue"])
            #expect(enqueues == 5)
            if let postgres = server.components.backend as? PostgresBackend {
                #expect(scrape.value(MetricName.poolMax, [:]) == Double(postgres.database.maxConnections))
                #expect(scrape.value(MetricName.poolInUse, [:]) != nil)
                #expect(scrape.value(MetricName.poolWaiting, [:]) != nil)
            }
        }
    }

    @Test("GET /metrics needs an admin key: 401 without one, 403 JSON for another key")
    func adminOnly() async throws {
        try await TestServer.run(configure: { $0.runsWorkers = false }) { server, client in
            let anonymous = try await client.get("/metrics", key: nil)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.errorMessage != nil)
            let user = try await client.get("/metrics", key: server.key)
            #expect(user.status == .forbidden)
            #expect(user.errorMessage == "This route needs an admin key.")
            #expect(try await client.get("/metrics", key: try await admin(server)).status == .ok)
        }
    }

    @Test("--metrics-port serves GET /metrics without a key, and nothing else")
    func metricsPort() async throws {
        try await TestServer.run(configure: { $0.metricsPort = 0 }) { server, client in
            _ = try await submit(client, prompt: "x", key: server.key)
            let port = try await server.components.metricsPort.value()
            #expect(port != 0 && port != server.components.configuration.port)

            let scraper = try await RawClient.connect(port: port)
            try await scraper.send("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let response = await scraper.response()
            await scraper.close()
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let scrape = Scrape(text: response.body)
            #expect(scrape.value(MetricName.jobsSubmitted, ["model": "nano-banana-2", "engine": "preview"]) == 1)

            let other = try await RawClient.connect(port: port)
            try await other.send("GET /v2/requests/x/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
            #expect(await other.response().status == 404)
            await other.close()
        }
    }

    @Test("the metrics port is read from its flag and variable, and checked")
    func metricsPortSetting() throws {
        var values = ConfigurationValues(environment: ["NANO_BANANA_METRICS_PORT": "9464"])
        #expect(try ServerConfiguration(values: values).metricsPort == 9464)
        values.override(.metricsPort, with: "9100")
        #expect(try ServerConfiguration(values: values).metricsPort == 9100)
        #expect(try ServerConfiguration(values: ConfigurationValues(environment: [:])).metricsPort == nil)
        let bad = ConfigurationValues(environment: ["NANO_BANANA_METRICS_PORT": "70000"])
        #expect(throws: ConfigurationError.self) { try ServerConfiguration(values: bad) }
    }
}

/// A Prometheus text exposition, read into samples: enough to find one series' value.
struct Scrape {
    let text: String
    /// Each sample's name, labels and value.
    let samples: [(name: String, labels: [String: String], value: Double)]

    init(_ response: TestResponse) throws {
        try #require(response.status == .ok)
        self.init(text: String(decoding: response.body.readableBytesView, as: UTF8.self))
    }

    init(text: String) {
        self.text = text
        samples = text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                let value = Double(line[line.index(after: space)...])
            else { return nil }
            let series = line[..<space]
            guard let open = series.firstIndex(of: "{") else { return (String(series), [:], value) }
            var labels: [String: String] = [:]
            let inner = series[series.index(after: open)..<(series.lastIndex(of: "}") ?? series.endIndex)]
            for pair in inner.components(separatedBy: "\",") {
                let sides = pair.split(separator: "=", maxSplits: 1)
                guard sides.count == 2 else { continue }
                labels[String(sides[0])] = sides[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
            return (String(series[..<open]), labels, value)
        }
    }

    /// The value of the series `name` with exactly these labels; `nil` when absent.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
