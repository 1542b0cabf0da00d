import Foundation
import Store

/// Tells the server's own signed file links (`…/v2/files/{name}?expires=…&signature=…`,
/// a result's `output` or an upload's link) from other URLs, whatever host they name: the
/// signature proves the server made the link. Such a link in `image_urls` is read from the
/// store, never fetched over the network.
struct OwnFileLinks: Sendable {
    let signer: OutputURLSigner
    let clock: any WallClock

    enum Match: Equatable {
        /// A link this server signed, still valid: the file's name in the store.
        case valid(name: String)
        /// A link this server signed, expired with its file.
        case expired
    }

    /// What `url` is; `nil` for anything the server did not sign (it is fetched as usual).
    func match(_ url: URL) -> Match? {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { return nil }
        let segments = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 4, segments[segments.count - 3] == "v2", segments[segments.count - 2] == "files",
            let name = segments.last.map(String.init), !name.isEmpty
        else { return nil }
        let items = components.queryItems ?? []
        func single(_ field: String) -> String? {
            let values = items.filter { $0.name == field }
            return values.count == 1 ? values[0].value : nil
        }
        switch try? signer.verify(
            fileName: name, expires: single("expires"), signature: single("signature"), now: clock.now())
        {
        case .valid: return .valid(name: name)
        case .expired: return .expired
        case .badSignature, nil: return nil
        }
    }
}
