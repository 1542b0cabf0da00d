import Foundation
import NanoBananaAPI
import Testing

@testable import Store

@Suite("Webhook rules")
struct WebhookPlanTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func job(_ status: JobStatus, attempts: Int = 1, targets: [WebhookTarget]?) -> JobRecord {
        JobRecord(
            sequence: 1, id: "j", keyID: "k", model: "m", seed: 1,
            state: JobState(status: status, attempts: attempts, maxAttempts: 3), createdAt: now, webhooks: targets)
    }

    func plan(_ job: JobRecord, from previous: JobStatus) -> [String] {
        WebhookPlan.events(for: job, from: previous, now: now).map { "\($0.type.rawValue)>\($0.url)" }
    }

    @Test("the first claim is `processing`; an end is `completed` or `failed`; nothing else is an event")
    func plans() {
        let targets = [
            WebhookTarget(url: "a", events: [.processing, .completed, .failed]), WebhookTarget(url: "f"),
        ]
        #expect(plan(job(.processing, targets: targets), from: .queued) == ["processing>a"])
        #expect(plan(job(.processing, attempts: 2, targets: targets), from: .queued).isEmpty)
        #expect(plan(job(.processing, targets: targets), from: .processing).isEmpty)
        #expect(plan(job(.queued, targets: targets), from: .processing).isEmpty)
        #expect(plan(job(.completed, targets: targets), from: .processing) == ["completed>a", "completed>f"])
        #expect(plan(job(.failed, targets: targets), from: .processing) == ["failed>a", "failed>f"])
        #expect(plan(job(.failed, attempts: 0, targets: targets), from: .queued) == ["failed>a", "failed>f"])
        #expect(plan(job(.completed, targets: targets), from: .completed).isEmpty)
        #expect(plan(job(.completed, targets: nil), from: .processing).isEmpty)
        let event = WebhookPlan.events(for: job(.completed, targets: targets), from: .processing, now: now)[0]
        #expect(event.jobID == "j" && event.keyID == "k" && event.createdAt == now && event.id.hasPrefix("msg_"))
    }

    @Test("targets keep their events once each, in a fixed order; the default is the final events")
    func targets() throws {
        #expect(WebhookTarget(url: "u").events == [.completed, .failed])
        #expect(WebhookTarget(url: "u", events: [.failed, .processing, .failed]).events == [.processing, .failed])
        let stored = try #require([WebhookTarget(url: "https://a.example/x?y=1")].stored)
        #expect([WebhookTarget](stored: stored) == [WebhookTarget(url: "https://a.example/x?y=1")])
        #expect([WebhookTarget]().stored == nil)
        #expect([WebhookTarget](stored: nil) == nil)
    }

    @Test("webhook URLs: http(s), a host, no credentials, at most 2,048 characters")
    func urls() {
        #expect(WebhookURLRule.problem(with: "https://hooks.example/path?q=1") == nil)
        #expect(WebhookURLRule.problem(with: "http://127.0.0.1:9000/") == nil)
        #expect(WebhookURLRule.problem(with: "ftp://hooks.example") != nil)
        #expect(WebhookURLRule.problem(with: "https://user:pw@hooks.example") != nil)
        #expect(WebhookURLRule.problem(with: "https:///nohost") != nil)
        #expect(WebhookURLRule.problem(with: "hooks.example") != nil)
        #expect(WebhookURLRule.problem(with: "https://a.example/" + String(repeating: "a", count: 2031)) != nil)
        #expect(WebhookURLRule.problem(with: "https://a.example/" + String(repeating: "a", count: 2030)) == nil)
    }

    @Test("a key's registry: replacing the active webhook keeps the old ones inactive, within the maximum")
    func subscriptions() throws {
        var list: [WebhookSubscription] = []
        try WebhookSubscriptions.replaceActive(with: "https://a.example", in: &list, now: now)
        try WebhookSubscriptions.replaceActive(with: "https://b.example", in: &list, now: now)
        #expect(list.map(\.active) == [false, true])
        try WebhookSubscriptions.replaceActive(with: nil, in: &list, now: now)
        #expect(list.allSatisfy { !$0.active } && list.count == 2)
        for index in 0..<30 {
            try WebhookSubscriptions.replaceActive(with: "https://\(index).example", in: &list, now: now)
        }
        #expect(list.count == WebhookSubscriptions.maximum)
        #expect(list.filter(\.active).map(\.url) == ["https://29.example"])
        #expect(throws: APIKeyError.tooManyWebhooks(WebhookSubscriptions.maximum)) {
            try WebhookSubscriptions.add("https://x.example", events: [], to: &list, now: now)
        }
        let stored = WebhookSubscriptions.stored(list)
        #expect(WebhookSubscriptions.list(stored: stored) == list)
        #expect(WebhookSubscriptions.list(stored: nil).isEmpty)
    }

    @Test("a signing secret is whsec_ and the base64 of 32 random bytes")
    func secrets() {
        let secret = WebhookSecret.generate()
        #expect(secret.hasPrefix("whsec_"))
        #expect(WebhookSecret.keyBytes(secret)?.count == 32)
        #expect(WebhookSecret.generate() != secret)
        #expect(WebhookSecret.keyBytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") != nil)
        #expect(WebhookSecret.keyBytes("whsec_!!") == nil)
    }
}
