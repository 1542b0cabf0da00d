import Foundation
import NanoBananaAPI
import Testing

@Suite("Standard Webhooks signatures")
struct WebhookSignatureTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let body = Array(#"{"test": 2432232314}"#.utf8)
    static let headers = [
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ]
    static let then = Date(timeIntervalSince1970: 1_614_265_330)

    @Test("signing reproduces the published Standard Webhooks test vector")
    func vector() throws {
        let key = try #require(WebhookSignature.key(fromSecret: Self.secret))
        #expect(
            WebhookSignature.sign(
                id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Self.body, key: key)
                == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test("verification accepts the vector, and refuses a changed body, a wrong secret or an old timestamp")
    func verification() throws {
        try WebhookSignature.verify(body: Self.body, headers: Self.headers, secret: Self.secret, now: Self.then)
        var upper = [String: String]()
        for (name, value) in Self.headers { upper[name.uppercased()] = value }
        upper["WEBHOOK-SIGNATURE"] = "v1,bm9wZQ== " + Self.headers["webhook-signature"]!
        try WebhookSignature.verify(body: Self.body, headers: upper, secret: Self.secret, now: Self.then)
        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try WebhookSignature.verify(
                body: Self.body + [0x20], headers: Self.headers, secret: Self.secret, now: Self.then)
        }
        #expect(throws: WebhookSignature.Failure.noMatchingSignature) {
            try WebhookSignature.verify(
                body: Self.body, headers: Self.headers,
                secret: "whsec_" + Data(repeating: 1, count: 32).base64EncodedString(),
                now: Self.then)
        }
        #expect(throws: WebhookSignature.Failure.timestampOutOfTolerance) {
            try WebhookSignature.verify(
                body: Self.body, headers: Self.headers, secret: Self.secret, now: Self.then.addingTimeInterval(301))
        }
        #expect(throws: WebhookSignature.Failure.missingHeaders) {
            try WebhookSignature.verify(body: Self.body, headers: [:], secret: Self.secret, now: Self.then)
        }
        #expect(throws: WebhookSignature.Failure.invalidSecret) {
            try WebhookSignature.verify(body: Self.body, headers: Self.headers, secret: "whsec_%%%", now: Self.then)
        }
    }
}
