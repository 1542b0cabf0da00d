import Foundation

/// Where a reference image in `image_urls` comes from: bytes inlined as a `data:` URL, or
/// an http(s) URL the server may fetch.
public enum ReferenceImageSource: Sendable, Equatable {
    /// The largest decoded reference image accepted, in bytes (the upstream model's limit).
    public static let maxInlineBytes = 7 * 1024 * 1024
    /// The longest http(s) URL accepted.
    public static let maxURLLength = 4096
    /// Media types accepted in `data:` URLs.
    public static let acceptedMediaTypes = ["image/png", "image/jpeg", "image/jpg", "image/webp"]

    case inline(mediaType: String, bytes: [UInt8])
    case remote(URL)

    /// Why a reference was refused; `reason` is a sentence for the client.
    public struct Invalid: Error, Sendable, Equatable {
        public let reason: String
    }

    /// Parses one entry of `image_urls`, decoding `data:` URLs.
    public init(parsing string: String) throws(Invalid) {
        if string.hasPrefix("data:") {
            self = try Self.parseDataURL(string)
            return
        }
        guard string.count <= Self.maxURLLength else {
            throw Invalid(reason: "the URL is longer than \(Self.maxURLLength) characters.")
        }
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https"
        else {
            throw Invalid(reason: "only http(s) URLs and data: URLs (base64 PNG, JPEG or WebP) are accepted.")
        }
        guard let host = url.host, !host.isEmpty else {
            throw Invalid(reason: "the URL has no host.")
        }
        self = .remote(url)
    }

    private static func parseDataURL(_ string: String) throws(Invalid) -> Self {
        guard let comma = string.firstIndex(of: ",") else {
            throw Invalid(reason: "a data: URL needs a ',' before its payload.")
        }
        let header = string[string.index(string.startIndex, offsetBy: 5)..<comma].lowercased()
        let parts = header.split(separator: ";").map(String.init)
        guard parts.last == "base64" else {
            throw Invalid(reason: "a data: URL must be base64-encoded (data:image/png;base64,…).")
        }
        let mediaType = parts.first ?? ""
        guard acceptedMediaTypes.contains(mediaType) else {
            throw Invalid(
                reason:
                    "media type '\(ErrorBody.echo(mediaType))' is not accepted; use image/png, image/jpeg or image/webp."
            )
        }
        let payload = string[string.index(after: comma)...]
        guard payload.utf8.count <= (maxInlineBytes / 3 + 1) * 4 + 64 else {
            throw Invalid(reason: "the image is larger than \(maxInlineBytes / (1024 * 1024)) MB.")
        }
        guard let data = Data(base64Encoded: String(payload), options: .ignoreUnknownCharacters), !data.isEmpty
        else {
            throw Invalid(reason: "the base64 payload of the data: URL could not be decoded.")
        }
        guard data.count <= maxInlineBytes else {
            throw Invalid(reason: "the image is larger than \(maxInlineBytes / (1024 * 1024)) MB.")
        }
        return .inline(mediaType: mediaType == "image/jpg" ? "image/jpeg" : mediaType, bytes: [UInt8](data))
    }
}
