import Foundation
import NanoBananaAPI
import NanoBananaClient
import Server
import Store
import Testing

@Suite("Swift SDK webhooks")
struct WebhookClientTests {
    @Test("submit with a webhook; read its deliveries, send it again, get the secret and verify a delivery")
    func webhooks() async throws {
        // Port 9 on loopback is allowed and closed: the attempts fail and are logged.
        try await withLiveServer(configure: { $0.allowedWebhookHosts = ["127.0.0.1:9"] }) { base, components, key in
            let client = try Client(apiKey: key, baseURL: base)
            let url = "http://127.0.0.1:9/hook?a=1&b=x+y"
            let job = try await client.submitAsync(
                NanoBanana2Parameters(prompt: "x", outputResolution: .px512),
                webhook: WebhookRequest(url: url, events: ["processing", "completed"]))
            #expect(
                try await components.jobs.job(id: job.requestID)?.webhooks
                    == [WebhookTarget(url: url, events: [.processing, .completed])])
            _ = try await job.wait(timeout: .seconds(60), interval: .milliseconds(50))
            let deliveries = try await client.webhooks(requestID: job.requestID)
            #expect(deliveries.requestID == job.requestID)
            #expect(deliveries.events.map(\.type) == ["request.processing", "request.completed"])
            let again = try await client.redeliverWebhook(requestID: job.requestID)
            #expect(again.events.map(\.type) == ["request.completed"])

            let secret = try await client.webhookSecret()
            #expect(secret.hasPrefix("whsec_"))
            let body = Array(#"{"type":"request.completed","timestamp":"t","data":{"status":"COMPLETED"}}"#.utf8)
            let now = Int(Date().timeIntervalSince1970)
            let signature = WebhookSignature.sign(
                id: "msg_1", timestamp: now, body: body, key: try #require(WebhookSignature.key(fromSecret: secret)))
            let headers = ["Webhook-Id": "msg_1", "Webhook-Timestamp": String(now), "Webhook-Signature": signature]
            let message = try Webhook.verify(payload: body, headers: headers, secret: secret)
            #expect(message.type == "request.completed" && message.data == .object(["status": .string("COMPLETED")]))
            #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
                try Webhook.verify(payload: body + [0x20], headers: headers, secret: secret)
            }
        }
    }
}
