import Hummingbird
import NIOCore
import Synchronization

/// The result images being sent right now, one copy each, however many connections send
/// it: a signed link fetched by 300 clients at once holds its image once, not 300 times.
/// An image stays here only while a response holds it (the registry's references are weak),
/// so nothing is cached beyond the responses in flight.
final class ServedImages: Sendable {
    /// One image's bytes, shared by the responses sending it.
    final class Image: Sendable {
        let bytes: ByteBuffer

        init(_ bytes: ByteBuffer) {
            self.bytes = bytes
        }
    }

    private struct Entry {
        weak var image: Image?
    }

    private let images = Mutex<[String: Entry]>([:])

    init() {}

    /// The image stored under `key`: the copy being sent already, or the one `load` reads
    /// (`nil` when there is none).
    func image(key: String, load: () async throws -> [UInt8]?) async throws -> Image? {
        if let image = images.withLock({ $0[key]?.image }) { return image }
        guard let bytes = try await load() else { return nil }
        let loaded = Image(ByteBuffer(bytes: bytes))
        return images.withLock { images in
            // Another request may have loaded it meanwhile: keep one copy.
            if let image = images[key]?.image { return image }
            images = images.filter { $0.value.image != nil }
            images[key] = Entry(image: loaded)
            return loaded
        }
    }

    /// Images held by responses now, for tests.
    var count: Int { images.withLock { $0.values.count { $0.image != nil } } }
}

extension ResponseBody {
    /// An image in slices of `sliceSize` (the slices share the image's storage: no copy),
    /// each written once the connection has taken the one before: the writer waits while
    /// the connection's buffer is full, so a client that does not read costs the server no
    /// more than a slice beyond the socket's buffers, and the write timeout closes it. The
    /// body holds `image` (and so keeps it shared) until it is written.
    static func inSlices(_ image: ServedImages.Image, sliceSize: Int = 64 * 1024) -> ResponseBody {
        ResponseBody(contentLength: image.bytes.readableBytes) { writer in
            var remaining = image.bytes
            while remaining.readableBytes > 0 {
                let slice = remaining.readSlice(length: min(sliceSize, remaining.readableBytes))!
                try await writer.write(slice)
            }
            try await writer.finish(nil)
        }
    }
}
