import Hummingbird
import NIOCore
import Store
import Synchronization

/// The request context of every route: the core storage plus the authenticated key.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``APIKeyMiddleware`` on authenticated routes.
    public var apiKey: APIKey?
    /// The connection the request came on: its close tells a waiting route that the client
    /// has gone.
    let channel: any Channel
    /// The id the request's log lines carry (``RequestCorrelation``), set by
    /// ``AccessLogMiddleware``; empty on a router without it.
    var requestID = ""
    /// What the request's access line reports that only the handlers learn.
    let access = AccessFacts()

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

/// What a request's handlers learn that its access line reports (``AccessLogMiddleware``):
/// its key and the job it submitted or read. One per request, shared by every copy of its
/// context, as Hummingbird shares the matched route.
final class AccessFacts: Sendable {
    private let facts = Mutex<(keyID: String?, jobID: String?)>((nil, nil))

    var keyID: String? {
        get { facts.withLock { $0.keyID } }
        set { facts.withLock { $0.keyID = newValue } }
    }

    var jobID: String? {
        get { facts.withLock { $0.jobID } }
        set { facts.withLock { $0.jobID = newValue } }
    }
}
