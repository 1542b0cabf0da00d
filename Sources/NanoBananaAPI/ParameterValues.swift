/// The closed sets of values the `nano-banana-2` parameters accept, spelled exactly as on
/// the wire.

/// `aspect_ratio`: `auto` or one of the 14 ratios of the dimension table.
public enum AspectRatio: String, Sendable, CaseIterable, Codable {
    case auto
    case square = "1:1"
    case portrait2x3 = "2:3"
    case landscape3x2 = "3:2"
    case landscape4x3 = "4:3"
    case portrait3x4 = "3:4"
    case portrait4x5 = "4:5"
    case landscape5x4 = "5:4"
    case landscape16x9 = "16:9"
    case portrait9x16 = "9:16"
    case landscape21x9 = "21:9"
    case landscape4x1 = "4:1"
    case portrait1x4 = "1:4"
    case landscape8x1 = "8:1"
    case portrait1x8 = "1:8"
}

/// `output_format`: the encoding of the returned image.
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    case jpg
    case png

    /// The `Content-Type` of an image in this format.
    public var mimeType: String {
        switch self {
        case .jpg: "image/jpeg"
        case .png: "image/png"
        }
    }

    /// The file extension used in output URLs.
    public var fileExtension: String { rawValue }
}

/// `output_resolution`: the size class of the output, scaling the 1K table.
public enum OutputResolution: String, Sendable, CaseIterable, Codable {
    case px512 = "512px"
    case oneK = "1K"
    case twoK = "2K"
    case fourK = "4K"
}

/// `thinking_level`: how much the model reasons before drawing.
public enum ThinkingLevel: String, Sendable, CaseIterable, Codable {
    case minimal
    case high
}

/// `response_modalities`: whether a short text accompanies the image.
public enum ResponseModalities: String, Sendable, CaseIterable, Codable {
    case textAndImage = "TEXT_AND_IMAGE"
    case image = "IMAGE"
}
