import Foundation
import NanoBananaAPI

extension Client {
    /// The server's root: the v1 base without its last segment.
    var rootURL: String {
        guard let slash = baseURL.lastIndex(of: "/") else { return baseURL }
        return String(baseURL[..<slash])
    }

    /// Uploads images (`POST /upload-asset`) and returns their links, to pass as
    /// reference images (`image_urls`). Each is a file's bytes with its MIME type.
    public func upload(_ files: [(bytes: [UInt8], mimeType: String)]) async throws -> [String] {
        let dataURLs = files.map { "data:\($0.mimeType);base64," + Data($0.bytes).base64EncodedString() }
        let (_, body) = try await send(
            .POST, url: "\(rootURL)/upload-asset", json: try JSONEncoder().encode(["data_urls": dataURLs]))
        struct Uploaded: Decodable {
            let fileURLs: [String]
            enum CodingKeys: String, CodingKey { case fileURLs = "file_urls" }
        }
        return try JSONDecoder().decode(Uploaded.self, from: Data(body)).fileURLs
    }

    /// The key's credits: `nil` for a key that is not metered.
    public func credits() async throws -> Int? {
        let (_, body) = try await send(.GET, url: "\(baseURL)/get-user-credits")
        struct Credits: Decodable { let credits: Int? }
        return try JSONDecoder().decode(Credits.self, from: Data(body)).credits
    }
}
