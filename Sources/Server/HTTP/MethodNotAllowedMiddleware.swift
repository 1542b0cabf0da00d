import Hummingbird
import NanoBananaAPI

/// The methods each route's path answers, so that a known path asked with another method
/// gets 405 and `Allow` rather than the 404 of a path that does not exist.
struct AllowedMethods: Sendable {
    /// One route path and the methods it answers.
    private struct Route: Sendable {
        let path: RouterPath
        var methods: Set<HTTPRequest.Method>
    }

    private let routes: [Route]

    /// `routes` as a router lists them; with `headForGet`, a GET route answers HEAD too
    /// (the router's `autoGenerateHeadEndpoints`).
    init(_ routes: [(path: RouterPath, method: HTTPRequest.Method)], headForGet: Bool) {
        var byPath: [String: Route] = [:]
        for (path, method) in routes {
            var route = byPath[path.description] ?? Route(path: path, methods: [])
            route.methods.insert(method)
            if headForGet && method == .get { route.methods.insert(.head) }
            byPath[path.description] = route
        }
        self.routes = Array(byPath.values)
    }

    /// The methods of the routes whose path matches `path` segment by segment, as the
    /// router matches them (a capture such as `{id}` matches any one segment, and a
    /// constant segment wins over a capture: `/v2/requests` is not `/v2/{model}`), in a
    /// stable order; empty when none does.
    func methods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        var best: [Bool] = []
        var methods: Set<HTTPRequest.Method> = []
        for route in routes where route.path.components.count == segments.count {
            guard zip(route.path.components, segments).allSatisfy({ $0.0 ~= $0.1 }) else { continue }
            // Which segments the route names as constants; the router follows the first
            // constant it can, so the most constant match, segment by segment, is the one.
            let constants = zip(route.path.components, segments).map { $0.0 == $0.1 }
            if !best.isEmpty && constants.lexicographicallyPrecedes(best, by: { !$0 && $1 }) { continue }
            if constants != best {
                best = constants
                methods = []
            }
            methods.formUnion(route.methods)
        }
        return methods.sorted { $0.rawValue < $1.rawValue }
    }
}

/// Answers 405 with `Allow` for a known path asked with a method it does not answer.
/// Added to the router after every route, it wraps only the router's not-found responder.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowed: AllowedMethods

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let methods = allowed.methods(forPath: request.uri.path)
        guard !methods.isEmpty, !methods.contains(request.method) else { return try await next(request, context) }
        let allow = methods.map(\.rawValue).joined(separator: ", ")
        throw APIError(
            .methodNotAllowed,
            "Method \(ErrorBody.echo(request.method.rawValue)) is not allowed on this route; it answers \(allow).",
            headers: [.allow: allow])
    }
}
