import AsyncHTTPClient
import Foundation
import Imaging
import NIOCore
import NIOHTTP1

/// One checked URL: the URL as given and the address its host was checked at
/// (``GuardedHTTPClient/check(_:)``).
public struct FetchTarget: Sendable {
    let url: URL
    let scheme: String
    let host: String
    let port: Int
    /// The checked address, as text (IPv6 without brackets).
    let ip: String
    let isIPv6: Bool

    var hostIsLiteral: Bool { (try? SocketAddress(ipAddress: host, port: port)) != nil }

    /// The checked address as it appears in a URL (IPv6 in brackets).
    var addressLiteral: String { isIPv6 ? "[\(ip)]" : ip }

    /// The `Host` header of the original URL.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return url.port.map { "\(name):\($0)" } ?? name
    }

    /// Path and query, percent-encoded as received, `/` when empty.
    var pathAndQuery: String {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: true)
        let path = components?.percentEncodedPath ?? ""
        let query = components?.percentEncodedQuery.map { "?\($0)" } ?? ""
        return (path.isEmpty ? "/" : path) + query
    }
}

/// What one hop ended with.
enum HopOutcome: Sendable {
    case image(bytes: [UInt8], mediaType: String)
    case redirect(location: String)
}

extension ReferenceFetcher {
    static let redirectStatuses: Set<UInt> = [301, 302, 303, 307, 308]

    /// Sends one request to the checked address and reads the answer.
    func send(_ target: FetchTarget, deadline: NIODeadline) async throws -> HopOutcome {
        try await client.send(to: target, deadline: deadline) { response in try await read(response) }
    }

    func read(_ response: HTTPClientResponse) async throws -> HopOutcome {
        guard response.history.count <= 1 else {
            throw ReferenceFetchError.transport("the HTTP client followed a redirect by itself")
        }
        let status = response.status.code
        if !(200..<300).contains(status) {
            // Read the (small) body of a redirect or an error, so the connection goes back
            // to the pool instead of lingering until it times out.
            _ = try? await response.body.collect(upTo: 64 * 1024)
        }
        if Self.redirectStatuses.contains(status) {
            guard let location = response.headers.first(name: "Location") else {
                throw ReferenceFetchError.httpStatus(Int(status))
            }
            return .redirect(location: location)
        }
        guard (200..<300).contains(status) else { throw ReferenceFetchError.httpStatus(Int(status)) }
        if let contentType = response.headers.first(name: "Content-Type") {
            let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard mediaType.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("image/") else {
                throw ReferenceFetchError.wrongContentType(contentType)
            }
        }
        let limit = configuration.maxBytes
        if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
            throw ReferenceFetchError.tooLarge(limit: limit)
        }
        var bytes: [UInt8] = []
        for try await buffer in response.body {
            guard bytes.count + buffer.readableBytes <= limit else { throw ReferenceFetchError.tooLarge(limit: limit) }
            bytes.append(contentsOf: buffer.readableBytesView)
        }
        guard let format = ImageFormat.sniff(bytes) else { throw ReferenceFetchError.notAnImage }
        return .image(bytes: bytes, mediaType: format.mimeType)
    }

    /// A transport failure as a phrase for the client, without addresses.
    static func transportError(_ error: any Error) -> ReferenceFetchError {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .connectTimeout, .readTimeout, .writeTimeout:
                return .timedOut
            case .remoteConnectionClosed:
                return .transport("the server closed the connection early")
            default:
                break
            }
        }
        if String(reflecting: type(of: error)).contains("SSL") {
            return .transport("the TLS handshake with the host failed")
        }
        return .transport("could not connect to the host")
    }
}
