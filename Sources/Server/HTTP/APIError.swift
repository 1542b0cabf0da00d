import Foundation
import Hummingbird
import NanoBananaAPI

/// An error that knows its HTTP rendering: a status and a JSON ``ErrorBody``.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let body: ErrorBody
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.body = ErrorBody(error: message)
        self.headers = headers
    }

    init(_ status: HTTPResponse.Status, body: ErrorBody, headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(body, status: status)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, message) }
    static func unauthorized(_ message: String) -> APIError { APIError(.unauthorized, message) }
    static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
}

extension Response {
    /// How the API writes JSON: bodies, and the event stream's data lines.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// A JSON response of `value`.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response
    {
        let data = (try? encoder.encode(value)) ?? Data(#"{"error":"Internal error: unencodable response."}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
