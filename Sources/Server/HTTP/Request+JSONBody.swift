import Foundation
import Hummingbird
import NanoBananaAPI

extension Request {
    /// The body of a JSON route, at most `limit` bytes, refused with 415 when it declares a
    /// media type that is not JSON. A body without a type, and one sent as
    /// `application/x-www-form-urlencoded` (what `curl -d` sends), are read as JSON.
    mutating func collectJSONBody(upTo limit: Int) async throws -> ByteBuffer {
        if let type = headers[.contentType], !Self.isReadAsJSON(contentType: type) {
            throw APIError(
                .unsupportedMediaType,
                "Unsupported Content-Type '\(ErrorBody.echo(type))': send the body as application/json.")
        }
        return try await collectBody(upTo: limit)
    }

    /// A small JSON body (at most 64 KiB) decoded as `Body`; a repeated field, an unknown
    /// one, or a body that is not the expected object, is a 400.
    func decodeSmallJSON<Body: StrictJSONBody>(_ type: Body.Type) async throws -> Body {
        var request = self
        let bytes = try await request.collectJSONBody(upTo: 64 * 1024)
        let json: JSONValue
        do {
            // Refuses a repeated field, as the generation routes do.
            json = try JSONValue(parsing: bytes.readableBytesView)
        } catch {
            throw APIError.badRequest(error.description)
        }
        // And an unknown one, which a decoder would skip: a misspelt limit would pass unseen.
        if case .object(let object) = json,
            let unknown = object.keys.sorted().first(where: { !Body.fieldNames.contains($0) })
        {
            throw APIError.badRequest(
                "Unknown field '\(ErrorBody.echo(unknown))'. Accepted fields: \(Body.fieldNames.joined(separator: ", "))."
            )
        }
        do {
            return try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        } catch {
            throw APIError.badRequest("The request body is not the expected JSON object.")
        }
    }

    /// `application/json`, `application/…+json`, `application/x-www-form-urlencoded` or
    /// empty, whatever the parameters (`; charset=utf-8`).
    static func isReadAsJSON(contentType: String) -> Bool {
        let mediaType = (contentType.split(separator: ";", omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: .whitespaces).lowercased()
        return mediaType.isEmpty || mediaType == "application/json" || mediaType == "application/x-www-form-urlencoded"
            || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}

/// A small JSON body (an admin route's, a webhook registry's): decoded, with every
/// top-level field it accepts named.
protocol StrictJSONBody: Decodable {
    associatedtype CodingKeys: CodingKey & CaseIterable
}

extension StrictJSONBody {
    static var fieldNames: [String] { CodingKeys.allCases.map(\.stringValue) }
}
