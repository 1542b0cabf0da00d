import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import Engines

@Suite("Webhook retry policy")
struct WebhookRetryPolicyTests {
    @Test("2xx delivers, 410 stops, anything else retries along the schedule until it runs out")
    func decisions() {
        let policy = WebhookRetryPolicy()
        #expect(policy.schedule.reduce(0, +) >= 24 * 3600)
        #expect(policy.timeout == 10)
        #expect(policy.decide(attempt: 1, statusCode: 200) == .delivered)
        #expect(policy.decide(attempt: 8, statusCode: 204) == .delivered)
        #expect(policy.decide(attempt: 1, statusCode: 410) == .gone)
        #expect(policy.decide(attempt: 1, statusCode: 500, random: 0.5) == .retry(after: 5))
        #expect(policy.decide(attempt: 2, statusCode: nil, random: 0.5) == .retry(after: 300))
        #expect(policy.decide(attempt: 3, statusCode: 302, random: 0.5) == .retry(after: 1800))
        #expect(policy.decide(attempt: 7, statusCode: 404, random: 0.5) == .retry(after: 36_000))
        #expect(policy.decide(attempt: 8, statusCode: 500, random: 0.5) == .exhausted)
    }

    @Test("jitter moves a delay by at most a fifth either way")
    func jitter() {
        let policy = WebhookRetryPolicy()
        #expect(policy.decide(attempt: 2, statusCode: 500, random: 0) == .retry(after: 240))
        #expect(policy.decide(attempt: 2, statusCode: 500, random: 1) == .retry(after: 360))
        for _ in 0..<100 {
            guard case .retry(let delay) = policy.decide(attempt: 1, statusCode: nil) else {
                Issue.record("not a retry")
                return
            }
            #expect((4...6).contains(delay))
        }
    }

    @Test("schedules parse from 5s,5m,2h,1d and refuse what is not a positive duration")
    func parsing() {
        #expect(WebhookRetryPolicy.parseSchedule("5s,5m, 2h,1d,3") == [5, 300, 7200, 86_400, 3])
        #expect(WebhookRetryPolicy.parseSchedule("0.5s") == [0.5])
        for bad in ["", "5x", "-1s", "0", "s", "5s,,5s", "inf", "31d"] {
            #expect(WebhookRetryPolicy.parseSchedule(bad) == nil, "\(bad)")
        }
    }
}

@Suite("Webhook sender", .timeLimit(.minutes(1)))
struct WebhookSenderTests {
    static let client = HTTPClient(
        eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
        configuration: GuardedHTTPClient.makeHTTPClientConfiguration())

    func sender(allowing hosts: Set<AllowedHost> = ["127.0.0.1"]) -> WebhookSender {
        WebhookSender(allowedHosts: hosts, httpClient: Self.client)
    }

    static func route(_ head: HTTPRequestHead) -> FakeReply {
        switch head.uri {
        case "/ok":
            return head.method == .POST && head.headers["webhook-id"] == ["msg_1"]
                && head.headers["Content-Type"] == ["application/json"]
                ? FakeReply(status: .noContent) : FakeReply(status: .badRequest)
        case "/gone": return FakeReply(status: .gone)
        case "/moved": return FakeReply(status: .found, headers: [("Location", "/ok")])
        case "/slow": return FakeReply(stalls: true)
        default: return FakeReply(status: .notFound)
        }
    }

    func post(_ sender: WebhookSender, _ url: String, timeout: Duration = .seconds(5)) async -> WebhookSender.Answer {
        await sender.post(url: url, headers: [("webhook-id", "msg_1")], body: Array("{}".utf8), timeout: timeout)
    }

    @Test("a POST reaches an allowed receiver and brings back its status; redirects are not followed")
    func statuses() async throws {
        try await FakeUpstream.with(route: Self.route) { upstream in
            let base = "http://127.0.0.1:\(upstream.port)"
            #expect(await post(sender(), base + "/ok").statusCode == 204)
            #expect(
                await post(sender(allowing: [AllowedHost(host: "127.0.0.1", port: upstream.port)]), base + "/ok")
                    .statusCode == 204)
            #expect(await post(sender(), base + "/gone").statusCode == 410)
            #expect(await post(sender(), base + "/moved").statusCode == 302)
        }
    }

    @Test("private addresses are refused unless allowed, and no connection is made")
    func refused() async throws {
        try await FakeUpstream.with(route: Self.route) { upstream in
            for url in [
                "http://127.0.0.1:\(upstream.port)/ok", "http://[::ffff:127.0.0.1]:\(upstream.port)/ok",
                "http://2130706433:\(upstream.port)/ok",
            ] {
                let answer = await post(sender(allowing: []), url)
                #expect(answer.statusCode == nil)
                #expect(answer.error?.contains("private or reserved") == true, "\(url): \(answer.error ?? "")")
            }
            let otherPort = await post(
                sender(allowing: [AllowedHost(host: "127.0.0.1", port: 1)]), "http://127.0.0.1:\(upstream.port)/ok")
            #expect(otherPort.error?.contains("private or reserved") == true)
            #expect(upstream.acceptedConnections == 0)
        }
    }

    @Test("a receiver that does not answer in time is a timeout; a closed port is a connection error")
    func failures() async throws {
        try await FakeUpstream.with(route: Self.route) { upstream in
            let slow = await post(sender(), "http://127.0.0.1:\(upstream.port)/slow", timeout: .milliseconds(300))
            #expect(slow.statusCode == nil && slow.error == "timed out after 0.3 s")
        }
        let closed = await post(sender(), "http://127.0.0.1:1/ok")
        #expect(closed.statusCode == nil && closed.error != nil)
    }
}
