import AsyncHTTPClient
import Foundation
import Imaging
import NIOCore
import NIOHTTP1

/// One checked hop: the URL as given and the address its host was checked at.
struct FetchTarget {
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
enum HopOutcome {
    case image(bytes: [UInt8], mediaType: String)
    case redirect(location: String)
}

extension ReferenceFetcher {
    static let redirectStatuses: Set<UInt> = [301, 302, 303, 307, 308]

    /// Sends one request to the checked address and reads the answer.
    func send(_ target: FetchTarget, deadline: NIODeadline) async throws -> HopOutcome {
        if target.scheme == "http" {
            var request = HTTPClientRequest(url: "http://\(target.addressLiteral):\(target.port)\(target.pathAndQuery)")
            request.headers.replaceOrAdd(name: "Host", value: target.hostHeader)
            return try await exchange(request, client: httpClient, deadline: deadline)
        }
        let request = HTTPClientRequest(url: target.url.absoluteString)
        if target.hostIsLiteral {
            return try await exchange(request, client: httpClient, deadline: deadline)
        }
        // TLS needs the name for SNI and the certificate check: a client of our own pins the
        // name to the checked IP, so no second DNS lookup happens.
        var configuration = Self.makeHTTPClientConfiguration()
        configuration.dnsOverride = [target.host: target.ip]
        if let original = target.url.host, original != target.host { configuration.dnsOverride[original] = target.ip }
        let pinned = HTTPClient(eventLoopGroup: httpClient.eventLoopGroup, configuration: configuration)
        do {
            let outcome = try await exchange(request, client: pinned, deadline: deadline)
            try? await pinned.shutdown()
            return outcome
        } catch {
            try? await pinned.shutdown()
            throw error
        }
    }

    func exchange(_ request: HTTPClientRequest, client: HTTPClient, deadline: NIODeadline) async throws -> HopOutcome {
        let response = try await client.execute(request, deadline: deadline)
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
