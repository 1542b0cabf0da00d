import Hummingbird
import NanoBananaAPI
import Store

/// `GET /v2/files/{name}`: result images and uploads behind signed, expiring links, no API key.
struct FilesController: Sendable {
    let jobs: any JobReader
    let signer: OutputURLSigner
    let clock: any WallClock
    let served: ServedImages

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("v2/files/:name", use: file)
    }

    @Sendable func file(_ request: Request, context: APIRequestContext) async throws -> Response {
        let name = try context.parameters.require("name")
        let query = request.uri.queryParameters
        switch try signer.verify(
            fileName: name, expires: query["expires"].map(String.init), signature: query["signature"].map(String.init),
            now: clock.now())
        {
        case .badSignature:
            throw APIError(.forbidden, "This file link is not valid: its signature does not match.")
        case .expired:
            throw APIError.notFound("This file link has expired, and the result with it.")
        case .valid:
            break
        }
        guard let image = try await served.image(key: name, load: { try await jobs.image(key: name) }) else {
            throw APIError.notFound("This file no longer exists: it has expired.")
        }
        var headers: HTTPFields = [:]
        headers[.contentType] =
            name.hasSuffix(".png")
            ? OutputFormat.png.mimeType : name.hasSuffix(".webp") ? "image/webp" : OutputFormat.jpg.mimeType
        headers[.cacheControl] = "private, max-age=3600, immutable"
        return Response(status: .ok, headers: headers, body: .inSlices(image))
    }
}
