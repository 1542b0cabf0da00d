import Engines
import NanoBananaAPI

/// The model slugs this server serves and the engine behind each.
struct ModelCatalog: Sendable {
    private let engines: [String: any ImageEngine]

    init(_ engines: [String: any ImageEngine]) {
        self.engines = engines
    }

    func engine(for slug: String) -> (any ImageEngine)? { engines[slug] }

    var slugs: [String] { engines.keys.sorted() }
}
