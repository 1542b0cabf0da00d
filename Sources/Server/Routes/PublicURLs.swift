import Hummingbird

/// Builds the absolute URLs the API hands out: from the configured public base URL, or
/// from `http://` and the request's `Host` header.
struct PublicURLs: Sendable {
    let configuredBase: String?
    let fallbackAuthority: String

    func base(for request: Request) -> String {
        if let configuredBase {
            return configuredBase.hasSuffix("/") ? String(configuredBase.dropLast()) : configuredBase
        }
        let authority = request.head.authority ?? fallbackAuthority
        return "http://" + (Self.isPlausibleAuthority(authority) ? authority : fallbackAuthority)
    }

    func statusURL(_ id: String, request: Request) -> String { "\(base(for: request))/v2/requests/\(id)/status" }
    func responseURL(_ id: String, request: Request) -> String { "\(base(for: request))/v2/requests/\(id)" }

    /// A host[:port] with nothing that could turn the URL into something else.
    private static func isPlausibleAuthority(_ authority: String) -> Bool {
        !authority.isEmpty && authority.count < 256
            && authority.allSatisfy { $0.isLetter || $0.isNumber || "-.:[]_".contains($0) }
    }
}
