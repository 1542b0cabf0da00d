import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// What went wrong with a request that is not valid HTTP, as the sentence its 400 carries;
/// and which errors only mean the client went away.
enum MalformedRequest {
    /// The sentence for an error of the HTTP parser or of the conversion to HTTP types;
    /// `nil` for any other error.
    static func sentence(for error: any Error) -> String? {
        switch error {
        case let error as HTTPParserError: parserSentence(error)
        case let error as HTTP1TypeConversionError where error == .invalidMethod:
            "Malformed HTTP request: the method is not a valid HTTP method."
        case let error as HTTP1TypeConversionError where error == .missingPath:
            "Malformed HTTP request: the request target has no path."
        case is HTTP1TypeConversionError: "Malformed HTTP request."
        default: nil
        }
    }

    private static func parserSentence(_ error: HTTPParserError) -> String {
        switch error {
        case .invalidMethod: "Malformed HTTP request: unknown or invalid method."
        case .invalidURL: "Malformed HTTP request: the request target is not a valid path."
        case .headerOverflow: "Malformed HTTP request: the request line or headers are too long."
        case .invalidChunkSize: "Malformed HTTP request: a chunk size of the body is not valid."
        case .invalidContentLength, .unexpectedContentLength:
            "Malformed HTTP request: the Content-Length header is not valid."
        case .invalidVersion: "Malformed HTTP request: the HTTP version is not valid."
        case .invalidConstant, .lfExpected: "Malformed HTTP request: the request line is not METHOD /path HTTP/1.1."
        case .invalidHeaderToken, .invalidCharactersUsed:
            "Malformed HTTP request: a header contains characters HTTP does not allow."
        case .invalidEOFState, .closedConnection: "The client closed the connection in the middle of its request."
        default: "Malformed HTTP request (\(error))."
        }
    }

    /// Whether `error` only says that the client closed or reset the connection (an upload
    /// abandoned half-way): worth a debug line, not an error.
    static func isClientAbort(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPParserError: error == .invalidEOFState || error == .closedConnection
        case is IOError: true
        case let error as ChannelError:
            error == .ioOnClosedChannel || error == .eof || error == .outputClosed || error == .inputClosed
                || error == .alreadyClosed
        default: false
        }
    }
}
