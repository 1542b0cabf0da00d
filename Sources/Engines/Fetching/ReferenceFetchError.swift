/// Why a reference image could not be fetched. `description` is a sentence for the API
/// client; it never names the addresses a host resolved to.
public enum ReferenceFetchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not http or https.
    case unsupportedScheme(String)
    /// The URL has no host, carries credentials, or a redirect's `Location` is not a URL.
    case invalidURL
    /// The host resolves to (or is) a private, loopback, link-local or reserved address.
    case forbiddenAddress(host: String)
    /// The host name did not resolve to any address.
    case unresolvable(host: String)
    /// More redirects than the configuration allows.
    case tooManyRedirects(limit: Int)
    /// The body is larger than the limit, in bytes.
    case tooLarge(limit: Int)
    /// The whole fetch, all redirects included, took longer than the configured timeout.
    case timedOut
    /// The final response had a status other than 2xx.
    case httpStatus(Int)
    /// The response declared a `Content-Type` that is not `image/*`.
    case wrongContentType(String)
    /// The body is not a JPEG, PNG or WebP image.
    case notAnImage
    /// The connection failed; the reason is a short phrase with no addresses in it.
    case transport(String)

    public var description: String {
        switch self {
        case .unsupportedScheme(let scheme):
            "The reference image URL uses the scheme '\(scheme)'; only http and https are fetched."
        case .invalidURL:
            "The reference image URL (or a redirect it led to) is not a valid http(s) URL without credentials."
        case .forbiddenAddress(let host):
            "The host '\(host)' resolves to a private or reserved address, which the server does not fetch from."
        case .unresolvable(let host):
            "The host '\(host)' of the reference image URL could not be resolved."
        case .tooManyRedirects(let limit):
            "The reference image URL redirected more than \(limit) times."
        case .tooLarge(let limit):
            "The reference image is larger than \(limit) bytes."
        case .timedOut:
            "Downloading the reference image took too long."
        case .httpStatus(let status):
            "Downloading the reference image failed with HTTP status \(status)."
        case .wrongContentType(let contentType):
            "The reference image URL served '\(contentType.prefix(100))', not an image."
        case .notAnImage:
            "The reference image URL did not serve a JPEG, PNG or WebP image."
        case .transport(let reason):
            "Downloading the reference image failed: \(reason)."
        }
    }
}
