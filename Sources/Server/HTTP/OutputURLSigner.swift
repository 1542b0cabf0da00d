import Crypto
import Foundation
import Store
import Synchronization

/// Signs and checks the links under which result images are served without an API key:
/// `/v2/files/{name}?expires={unix seconds}&signature={hex HMAC-SHA256}`. A link is
/// unguessable (it names a random request id and carries a MAC) and stops working when the
/// result expires. The secret is the store's (``load(secret:)`` when the node starts), so
/// every node of a cluster signs alike.
final class OutputURLSigner: Sendable {
    private let loaded = Mutex<SymmetricKey?>(nil)

    init() {}

    init(secret: [UInt8]) {
        load(secret: secret)
    }

    func load(secret: [UInt8]) {
        loaded.withLock { $0 = SymmetricKey(data: secret) }
    }

    /// The key; before the node has started (no request is served then) the store is
    /// reported unavailable.
    private var key: SymmetricKey {
        get throws {
            guard let key = loaded.withLock({ $0 }) else {
                throw StoreUnavailable(reason: "the signing secret is not loaded yet")
            }
            return key
        }
    }

    /// The path and query of a link to `fileName`, valid until `expires`.
    func signedPath(fileName: String, expires: Date) throws -> String {
        // Rounded down: a link never outlives the result it points to.
        let expiry = Int64(expires.timeIntervalSince1970.rounded(.down))
        return "/v2/files/\(fileName)?expires=\(expiry)&signature=\(try signature(fileName: fileName, expires: expiry))"
    }

    enum Verdict: Equatable {
        case valid
        case badSignature
        case expired
    }

    /// Checks a link as it was signed: one spelling only, the one ``signedPath(fileName:expires:)``
    /// writes (`expires` in plain decimal digits without a sign or leading zeros, the
    /// signature in lower-case hex), so that a link has exactly one URL.
    func verify(fileName: String, expires: String?, signature: String?, now: Date) throws -> Verdict {
        guard let expires, let expiry = Int64(expires), String(expiry) == expires, expiry >= 0,
            let signature, let mac = Self.bytes(fromHex: signature)
        else {
            return .badSignature
        }
        let message = Array("\(fileName)|\(expiry)".utf8)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: try key) else {
            return .badSignature
        }
        return Double(expiry) > now.timeIntervalSince1970 ? .valid : .expired
    }

    private func signature(fileName: String, expires: Int64) throws -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(fileName)|\(expires)".utf8), using: try key)
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The 32 bytes of 64 lower-case hex digits; `nil` for anything else.
    private static func bytes(fromHex hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        let values = digits.compactMap { digit -> UInt8? in
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        guard digits.count == 64, values.count == 64 else { return nil }
        return stride(from: 0, to: 64, by: 2).map { values[$0] << 4 | values[$0 + 1] }
    }
}
