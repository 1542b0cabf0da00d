import Hummingbird
import NIOCore
import Synchronization

/// The result images being sent right now, one copy each, however many connections send
/// it: a signed link fetched by 300 clients at once is read from the store once and held
/// once, not 300 times. An image stays here only while a response holds it (the registry's
/// references are weak), so nothing is cached beyond the responses in flight.
final class ServedImages: Sendable {
    /// One image's bytes, shared by the responses sending it.
    final class Image: Sendable {
        let bytes: ByteBuffer

        init(_ bytes: ByteBuffer) {
            self.bytes = bytes
        }
    }

    /// What a request that found the image being loaded gets once the load ends.
    private enum Outcome {
        case loaded(Image?)
        /// The load failed: the waiter loads for itself, so each request meets its own error.
        case retry
    }

    private enum Entry {
        case loading(waiters: [CheckedContinuation<Outcome, Never>])
        case served(Weak)
    }

    private struct Weak {
        weak var image: Image?
    }

    private let images = Mutex<[String: Entry]>([:])

    init() {}

    /// The image stored under `key` (`nil` when there is none): the copy being sent
    /// already, the one another request is loading, or else the one `load` reads.
    func image(key: String, load: () async throws -> [UInt8]?) async throws -> Image? {
        enum Role {
            case found(Image)
            case wait
            case load
        }
        let role: Role = images.withLock { images in
            switch images[key] {
            case .served(let weak)?:
                if let image = weak.image { return .found(image) }
            case .loading?:
                return .wait
            case nil:
                break
            }
            images[key] = .loading(waiters: [])
            return .load
        }
        switch role {
        case .found(let image):
            return image
        case .wait:
            switch await waitForLoad(key: key) {
            case .loaded(let image): return image
            case .retry: return try await self.image(key: key, load: load)
            }
        case .load:
            do {
                let image = try await load().map { Image(ByteBuffer(bytes: $0)) }
                finishLoad(key: key, outcome: .loaded(image))
                return image
            } catch {
                finishLoad(key: key, outcome: .retry)
                throw error
            }
        }
    }

    private func waitForLoad(key: String) async -> Outcome {
        await withCheckedContinuation { continuation in
            let now: Outcome? = images.withLock { images in
                switch images[key] {
                case .loading(let waiters)?:
                    images[key] = .loading(waiters: waiters + [continuation])
                    return nil
                case .served(let weak)?:
                    return weak.image.map { .loaded($0) } ?? .retry
                case nil:
                    return .retry
                }
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    private func finishLoad(key: String, outcome: Outcome) {
        let waiters: [CheckedContinuation<Outcome, Never>] = images.withLock { images in
            guard case .loading(let waiters)? = images[key] else { return [] }
            // Forget the images no response holds any more.
            images = images.filter {
                if case .served(let weak) = $0.value { return weak.image != nil }
                return true
            }
            if case .loaded(let image?) = outcome {
                images[key] = .served(Weak(image: image))
            } else {
                images[key] = nil
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    /// Requests waiting for another's load now, for tests.
    var waiting: Int {
        images.withLock { images in
            images.values.reduce(0) {
                if case .loading(let waiters) = $1 { return $0 + waiters.count }
                return $0
            }
        }
    }

    /// Images held by responses now, for tests.
    var count: Int {
        images.withLock { images in
            images.values.count {
                if case .served(let weak) = $0 { return weak.image != nil }
                return false
            }
        }
    }
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
