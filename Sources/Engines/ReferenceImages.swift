import Foundation
import Imaging
import NanoBananaAPI

/// Images the server holds itself (behind its own signed links), read from its store
/// instead of over the network.
public protocol LocalReferenceSource: Sendable {
    /// The bytes behind `url` when it is one of the server's own links; `nil` when it is not
    /// (it is then fetched as usual).
    /// - Throws: ``LocalReferenceUnavailable`` when it is one, but expired or gone.
    func bytes(at url: URL) async throws -> [UInt8]?
}

/// A link of the server's own whose file cannot be read; `reason` is a sentence for the client.
public struct LocalReferenceUnavailable: Error, Sendable, Equatable {
    public let reason: String

    public init(reason: String) {
        self.reason = reason
    }
}

/// Turns a request's `image_urls` into image bytes: `data:` URLs are decoded, the server's
/// own links are read from its store (``LocalReferenceSource``), other http(s) URLs are
/// fetched through the guarded ``ReferenceFetcher``. Every failure names the entry.
public struct ReferenceImages: Sendable {
    /// `nil`: remote references are refused (no fetcher configured).
    let fetcher: ReferenceFetcher?
    /// `nil`: every http(s) URL is fetched.
    let local: (any LocalReferenceSource)?

    public init(fetcher: ReferenceFetcher?, local: (any LocalReferenceSource)? = nil) {
        self.fetcher = fetcher
        self.local = local
    }

    /// `image/png`, `image/jpeg` or `image/webp`, from the bytes' magic numbers; `nil` for
    /// anything else.
    public static func sniffedMediaType(_ bytes: [UInt8]) -> String? {
        ImageFormat.sniff(bytes)?.mimeType
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
                if let stored = try await storedImage(remote, index: index) {
                    images.append(stored)
                    continue
                }
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

    /// The image behind one of the server's own links, from its store; `nil` for any other URL.
    private func storedImage(_ url: URL, index: Int) async throws -> (mediaType: String, bytes: [UInt8])? {
        let bytes: [UInt8]?
        do {
            bytes = try await local?.bytes(at: url)
        } catch let unavailable as LocalReferenceUnavailable {
            throw EngineFailure.invalidReference(index: index, reason: unavailable.reason)
        }
        guard let bytes else { return nil }
        guard let mediaType = Self.sniffedMediaType(bytes) else {
            throw EngineFailure.invalidReference(
                index: index, reason: "the stored file is not a PNG, JPEG or WebP image.")
        }
        return (mediaType, bytes)
    }
}
