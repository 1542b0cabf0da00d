/// An 8-bit-per-channel colour with straight (non-premultiplied) alpha.
public struct RGBA: Sendable, Equatable, Hashable {
    /// Red channel.
    public var r: UInt8
    /// Green channel.
    public var g: UInt8
    /// Blue channel.
    public var b: UInt8
    /// Alpha channel (255 = opaque).
    public var a: UInt8

    /// Creates a colour from its four channels; alpha defaults to opaque.
    public init(r: UInt8, g: UInt8, b: UInt8, a: UInt8 = 255) {
        self.r = r
        self.g = g
        self.b = b
        self.a = a
    }

    /// Opaque black.
    public static let black = RGBA(r: 0, g: 0, b: 0)
    /// Opaque white.
    public static let white = RGBA(r: 255, g: 255, b: 255)
    /// Fully transparent black.
    public static let clear = RGBA(r: 0, g: 0, b: 0, a: 0)
}

/// Image container formats the package can recognise by their magic bytes.
public enum ImageFormat: String, Sendable {
    /// JPEG / JFIF / EXIF.
    case jpeg
    /// PNG.
    case png
    /// WebP (recognised, but not decoded).
    case webp

    /// The IANA media type, e.g. `image/jpeg`.
    public var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        }
    }

    /// Identifies the format from the leading bytes, or returns `nil` if unrecognised.
    public static func sniff(_ bytes: some Collection<UInt8>) -> ImageFormat? {
        let head = Array(bytes.prefix(12))
        if head.count >= 3, head[0] == 0xFF, head[1] == 0xD8, head[2] == 0xFF {
            return .jpeg
        }
        if head.count >= 8, head[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            return .png
        }
        if head.count >= 12, head[0..<4].elementsEqual(Array("RIFF".utf8)),
            head[8..<12].elementsEqual(Array("WEBP".utf8))
        {
            return .webp
        }
        return nil
    }
}

/// Errors thrown by decoding, encoding and font loading.
public enum ImagingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not a format this package can decode (unknown magic, or WebP).
    case unsupportedFormat
    /// The data claims to be a known format but is damaged or truncated.
    case corrupt(String)
    /// The declared dimensions exceed the configured limits; nothing was allocated.
    case tooLarge(width: Int, height: Int)
    /// The encoder failed (e.g. empty canvas or library error).
    case encodeFailed(String)
    /// The font file could not be opened or parsed.
    case fontUnavailable(String)

    /// A human-readable explanation suitable for logs and API error bodies.
    public var description: String {
        switch self {
        case .unsupportedFormat:
            "unsupported image format (expected JPEG or PNG)"
        case .corrupt(let detail):
            "corrupt image data: \(detail)"
        case .tooLarge(let width, let height):
            "image too large: \(width)x\(height)"
        case .encodeFailed(let detail):
            "image encoding failed: \(detail)"
        case .fontUnavailable(let detail):
            "font unavailable: \(detail)"
        }
    }
}
