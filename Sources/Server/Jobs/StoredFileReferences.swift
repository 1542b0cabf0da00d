import Engines
import Foundation
import Store

/// The reference images a worker reads from the store rather than over the network: the
/// server's own signed links (``OwnFileLinks``), uploads and earlier results alike.
struct StoredFileReferences: LocalReferenceSource {
    let links: OwnFileLinks
    let images: any JobReader

    func bytes(at url: URL) async throws -> [UInt8]? {
        switch links.match(url) {
        case nil: return nil
        case .expired:
            throw LocalReferenceUnavailable(reason: "this server's link has expired, and its file with it.")
        case .valid(let name):
            guard let bytes = try await images.image(key: name) else {
                throw LocalReferenceUnavailable(reason: "the file behind this server's link no longer exists.")
            }
            return bytes
        }
    }
}
