import Contract
import Hummingbird

/// `GET /openapi.json`: the API's OpenAPI document, without a key, its `model` parameter
/// listing the slugs this server serves. Made once, when the routes are.
struct OpenAPIController: Sendable {
    let document: ByteBuffer

    init(modelSlugs: [String]) throws {
        document = ByteBuffer(bytes: try OpenAPIDocument.served(modelSlugs: modelSlugs))
    }

    func addRoutes(to router: Router<APIRequestContext>) {
        router.get("openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: document))
        }
    }
}
