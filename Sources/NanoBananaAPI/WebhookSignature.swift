import Crypto
import Foundation

/// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` of
/// `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed by the bytes of the secret
/// (`whsec_<base64>`: the base64 after the prefix).
public enum WebhookSignature {
    public static let idHeader = "webhook-id"
    public static let timestampHeader = "webhook-timestamp"
    public static let signatureHeader = "webhook-signature"

    /// The key bytes of a `whsec_…` secret; `nil` when it is not one.
    public static func key(fromSecret secret: String) -> [UInt8]? {
        let encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        return Data(base64Encoded: encoded).map { [UInt8]($0) }
    }

    /// The `webhook-signature` value for a delivery: `v1,` and the base64 signature.
    public static func sign(id: String, timestamp: Int, body: [UInt8], key: [UInt8]) -> String {
        var content = Array("\(id).\(timestamp).".utf8)
        content += body
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// Why a delivery was not accepted.
    public enum Failure: Error, Sendable, Equatable {
        case missingHeaders
        case invalidSecret
        /// The timestamp is further than the tolerance from now (a replay, or a bad clock).
        case timestampOutOfTolerance
        case noMatchingSignature
    }

    /// Checks a delivery: its headers (names in any case), its body as received, and the
    /// secret; the timestamp must be within `tolerance` seconds of `now`.
    public static func verify(
        body: [UInt8], headers: [String: String], secret: String, tolerance: TimeInterval = 300, now: Date = Date()
    ) throws(Failure) {
        let fields = Dictionary(
            headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        guard let id = fields[idHeader], let stamp = fields[timestampHeader], let timestamp = Int(stamp),
            let signatures = fields[signatureHeader]
        else { throw .missingHeaders }
        guard let key = key(fromSecret: secret) else { throw .invalidSecret }
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else {
            throw .timestampOutOfTolerance
        }
        let expected = Array(sign(id: id, timestamp: timestamp, body: body, key: key).utf8)
        // Several signatures may be sent, separated by spaces (a secret being rotated).
        for candidate in signatures.split(separator: " ") where constantTimeEqual(Array(candidate.utf8), expected) {
            return
        }
        throw .noMatchingSignature
    }

    private static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return zip(lhs, rhs).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
