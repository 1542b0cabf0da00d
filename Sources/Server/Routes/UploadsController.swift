import Engines
import Foundation
import Hummingbird
import NanoBananaAPI
import Store

/// `POST /upload-asset`: Segmind's storage shape, `{"data_urls": ["data:image/png;base64,…"]}`
/// → `{"file_urls": […], "message": …}`. Each file is checked as a reference image is (a
/// PNG, JPEG or WebP of at most 7 MB, at most 14 at once), stored with the key's uploads
/// against its quota, and answered with an absolute signed link that stays valid for the
/// retention. A link in `image_urls` is read from the store (``OwnFileLinks``).
///
/// A link is a bearer capability, as a result's is: whoever has it can read the file, and
/// pass it in `image_urls` with any key.
struct UploadsController: Sendable {
    let uploads: any UploadStore
    let views: JobViews
    let maxBodyBytes: Int
    let quota: UploadQuota

    func addRoutes(to group: RouterGroup<APIRequestContext>) {
        group.post(use: upload)
    }

    @Sendable func upload(_ request: Request, context: APIRequestContext) async throws -> Response {
        let key = try context.requireKey()
        var request = request
        let body = try await request.collectJSONBody(upTo: maxBodyBytes)
        let files = try Self.files(fromJSON: body.readableBytesView)
        let stored = try await uploads.storeUploads(files, keyID: key.id, quota: quota)
        let base = views.urls.base(for: request)
        let links = try stored.map { upload in
            try base + views.signer.signedPath(fileName: upload.name, expires: upload.createdAt + views.retention)
        }
        context.logger.info(
            "Files uploaded",
            metadata: ["files": "\(stored.count)", "bytes": "\(stored.reduce(0) { $0 + $1.size })"])
        return .json(UploadedFilesBody(fileURLs: links))
    }

    /// The body's files, each checked and named; a 400 naming the entry otherwise.
    static func files(fromJSON bytes: some Collection<UInt8>) throws -> [NewUpload] {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            throw APIError.badRequest(error.description)
        }
        guard case .object(let object) = json else {
            throw APIError.badRequest(#"The body must be a JSON object: {"data_urls": ["data:image/png;base64,…"]}."#)
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "data_urls" }) {
            throw APIError.badRequest("Unknown field '\(ErrorBody.echo(unknown))'. Accepted fields: data_urls.")
        }
        guard case .array(let entries) = object["data_urls"] ?? .null else {
            throw APIError.badRequest("'data_urls' is required: an array of data: URLs.")
        }
        let most = NanoBanana2Parameters.maxReferenceImages
        guard (1...most).contains(entries.count) else {
            throw APIError.badRequest("'data_urls' must hold 1 to \(most) files, as image_urls may.")
        }
        return try entries.enumerated().map { index, entry in try file(entry, index: index) }
    }

    private static func file(_ entry: JSONValue, index: Int) throws -> NewUpload {
        func refuse(_ reason: String) -> APIError { APIError.badRequest("Invalid 'data_urls[\(index)]': \(reason)") }
        guard case .string(let url) = entry else { throw refuse("expected a string, got \(entry.typeDescription).") }
        guard url.hasPrefix("data:") else {
            throw refuse("upload a data: URL (data:image/png;base64,…); pass http(s) URLs straight in image_urls.")
        }
        let bytes: [UInt8]
        do {
            guard case .inline(_, let decoded) = try ReferenceImageSource(parsing: url) else {
                throw refuse("upload a data: URL.")
            }
            bytes = decoded
        } catch let invalid as ReferenceImageSource.Invalid {
            throw refuse(invalid.reason)
        }
        // Served back under the type its bytes have, whatever the URL declared.
        guard let mediaType = ReferenceImages.sniffedMediaType(bytes) else {
            throw refuse("the bytes are not a PNG, JPEG or WebP image.")
        }
        let suffix =
            switch mediaType {
            case "image/png": "png"
            case "image/webp": "webp"
            default: "jpg"
            }
        return NewUpload(
            name: "upload-\(UUID().uuidString.lowercased()).\(suffix)", mediaType: mediaType, bytes: bytes)
    }
}
