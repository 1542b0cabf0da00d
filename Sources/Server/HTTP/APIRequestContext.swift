import Hummingbird
import NIOCore
import Store

/// The request context of every route: the core storage plus the authenticated key.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``APIKeyMiddleware`` on authenticated routes.
    public var apiKey: APIKey?
    /// The connection the request came on: its close tells a waiting route that the client
    /// has gone.
    let channel: any Channel

    public init(source: Source) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies are read explicitly with the configured limit; this bounds Hummingbird's own
    /// decoding helpers, which the routes do not use.
    public var maxUploadSize: Int { 1024 * 1024 }

    /// The authenticated key; routes behind ``APIKeyMiddleware`` always have one.
    func requireKey() throws -> APIKey {
        guard let apiKey else { throw APIError.unauthorized("Missing API key: send it in the x-api-key header.") }
        return apiKey
    }
}
