import Foundation
import NanoBananaAPI

/// Turns a request's `image_urls` into image bytes: `data:` URLs are decoded, http(s) URLs
/// are fetched through the guarded ``ReferenceFetcher``. Every failure names the entry.
public struct ReferenceImages: Sendable {
    /// `nil`: remote references are refused (no fetcher configured).
    let fetcher: ReferenceFetcher?

    public init(fetcher: ReferenceFetcher?) {
        self.fetcher = fetcher
    }

    /// The references in order, as media type and bytes.
    /// - Throws: ``EngineFailure/invalidReference(index:reason:)``, or `CancellationError`
    ///   when the calling task is cancelled during a download.
    public func load(_ urls: [String]) async throws -> [(mediaType: String, bytes: [UInt8])] {
        var images: [(mediaType: String, bytes: [UInt8])] = []
        for (index, url) in urls.enumerated() {
            switch try? ReferenceImageSource(parsing: url) {
            case .inline(let mediaType, let bytes):
                images.append((mediaType, bytes))
            case .remote(let remote):
                guard let fetcher else {
                    throw EngineFailure.invalidReference(
                        index: index, reason: "this server does not fetch http(s) references; send a data: URL.")
                }
                do {
                    let fetched = try await fetcher.fetch(remote)
                    images.append((fetched.mediaType, fetched.bytes))
                } catch let error as ReferenceFetchError {
                    throw EngineFailure.invalidReference(index: index, reason: error.description)
                }
            case nil:
                throw EngineFailure.invalidReference(index: index, reason: "it is not a usable image URL.")
            }
        }
        return images
    }
}
