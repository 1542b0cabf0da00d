/// Pixel sizes for every `aspect_ratio` × `output_resolution`, the table Google publishes
/// for this model. This is the one place the table lives.
public struct ImageDimensions: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    public let width: Int
    public let height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)×\(height)" }

    /// Sizes at `1K`; `512px` halves each side, `2K` doubles, `4K` quadruples.
    static let oneK: [AspectRatio: ImageDimensions] = [
        .square: .init(width: 1024, height: 1024),
        .landscape3x2: .init(width: 1264, height: 848),
        .portrait2x3: .init(width: 848, height: 1264),
        .landscape4x3: .init(width: 1200, height: 896),
        .portrait3x4: .init(width: 896, height: 1200),
        .landscape5x4: .init(width: 1152, height: 928),
        .portrait4x5: .init(width: 928, height: 1152),
        .landscape16x9: .init(width: 1376, height: 768),
        .portrait9x16: .init(width: 768, height: 1376),
        .landscape21x9: .init(width: 1584, height: 672),
        .landscape4x1: .init(width: 2048, height: 512),
        .portrait1x4: .init(width: 512, height: 2048),
        .landscape8x1: .init(width: 3072, height: 384),
        .portrait1x8: .init(width: 384, height: 3072),
    ]

    /// The size for a concrete ratio (not `auto`) at a resolution.
    public static func forRatio(_ ratio: AspectRatio, resolution: OutputResolution) -> ImageDimensions {
        let base = oneK[ratio] ?? oneK[.square]!
        switch resolution {
        case .px512: return .init(width: base.width / 2, height: base.height / 2)
        case .oneK: return base
        case .twoK: return .init(width: base.width * 2, height: base.height * 2)
        case .fourK: return .init(width: base.width * 4, height: base.height * 4)
        }
    }

    /// The concrete ratio whose shape is nearest to `width`/`height` (compared on a log
    /// scale, so 2:1 is as far from 1:1 as 1:2). Used to resolve `auto` from a reference.
    public static func nearestRatio(width: Int, height: Int) -> AspectRatio {
        guard width > 0, height > 0 else { return .square }
        let target = log(Double(width) / Double(height))
        var best = AspectRatio.square
        var bestDistance = Double.infinity
        for ratio in AspectRatio.allCases where ratio != .auto {
            let size = oneK[ratio]!
            let distance = abs(log(Double(size.width) / Double(size.height)) - target)
            if distance < bestDistance {
                best = ratio
                bestDistance = distance
            }
        }
        return best
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
