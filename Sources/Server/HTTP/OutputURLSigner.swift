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

    func verify(fileName: String, expires: String?, signature: String?, now: Date) throws -> Verdict {
        guard let expires, let expiry = Int64(expires), let signature, let mac = Self.bytes(fromHex: signature) else {
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

    private static func bytes(fromHex hex: String) -> [UInt8]? {
        guard hex.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
