import NanoBananaAPI

/// The body a request's history shows (``HistoryRowBody/requestBody``), made at submit and
/// stored with the job: the validated parameters, each long `data:` URL among the
/// reference images replaced by a short marker that names its type and size. The images
/// themselves are never kept past the job.
enum HistoryRequestBody {
    /// `data:` URLs up to this many characters are kept as they are.
    static let longestKept = 256

    static func shortened(_ parameters: NanoBanana2Parameters) -> NanoBanana2Parameters {
        var shortened = parameters
        shortened.imageURLs = parameters.imageURLs.map(marker)
        return shortened
    }

    /// `data:image/png;base64,<omitted: 48213 bytes>` for a long `data:` URL (the size is
    /// the decoded payload's, from its base64 length); any other URL as it is.
    static func marker(_ url: String) -> String {
        guard url.utf8.count > longestKept, url.hasPrefix("data:"),
            let comma = url.utf8.firstIndex(of: UInt8(ascii: ","))
        else { return url }
        let header = url.utf8[url.utf8.index(url.utf8.startIndex, offsetBy: 5)..<comma]
        // The media type only (validation accepted it), whatever else the header carries.
        let mediaType = String(decoding: header.prefix { $0 != UInt8(ascii: ";") }.prefix(40), as: UTF8.self)
            .lowercased()
        let payload = url.utf8[url.utf8.index(after: comma)...]
        let padding = payload.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        let bytes = max(0, payload.count / 4 * 3 - padding)
        return "data:\(mediaType);base64,<omitted: \(bytes) bytes>"
    }
}
