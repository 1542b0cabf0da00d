import Foundation

@testable import Imaging

/// Shared test fixtures and helpers.
enum Fixtures {
    /// A 16×8 grayscale JPEG (white→black vertical gradient), made with ImageMagick.
    static let grayJPEG = base64(
        "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/wAALCAAIABABAREA/8QAFQABAQAAAAAAAAAAAAAAAAAAAAH/xAAXEAADAQAAAAAAAAAAAAAAAAAAGWWj/9oACAEBAAA/AI0+voGn19D/2Q=="
    )

    /// A 16×8 solid red CMYK JPEG with an Adobe APP14 marker, made with ImageMagick.
    static let cmykJPEG = base64(
        "/9j/7gAOQWRvYmUAZAAAAAAC/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggLCAkKCgoKCgYICwwLCgwJCgoK/9sAQwECAgICAgIFAwMFCgcGBwoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoK/8AAFAgACAAQBAERAAIRAQMRAQQRAP/EABYAAQEBAAAAAAAAAAAAAAAAAAAICf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAWAQEBAQAAAAAAAAAAAAAAAAAACAr/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADgQBAAIRAxEEAAA/ALMVYz/t/AB//9k="
    )

    static func base64(_ s: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: s) ?? Data())
    }

    /// A smooth opaque gradient with a semi-transparent corner (alpha matters for PNG).
    static func gradient(width: Int, height: Int, alphaCorner: Bool = false) -> Canvas {
        var c = Canvas(width: width, height: height)
        for y in 0..<height {
            for x in 0..<width {
                let a: UInt8 = alphaCorner && x < width / 4 && y < height / 4 ? 128 : 255
                c[x, y] = RGBA(
                    r: UInt8(x * 255 / max(1, width - 1)), g: UInt8(y * 255 / max(1, height - 1)),
                    b: 96, a: a)
            }
        }
        return c
    }

    static var renderer: TextRenderer {
        get throws { try TextRenderer(fontPath: TextRenderer.defaultFontPath) }
    }

    /// Standard CRC-32 (as used by PNG chunks).
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
    }

    /// A PNG signature plus a valid IHDR chunk (correct CRC) declaring the given size.
    static func pngHeader(width: UInt32, height: UInt32) -> [UInt8] {
        let body = Array("IHDR".utf8) + be32(width) + be32(height) + [8, 6, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + be32(13) + body + be32(crc32(body))
    }

    /// Offset of the SOF0 marker's height field in a JPEG produced by our encoder.
    static func sof0HeightOffset(_ jpeg: [UInt8]) -> Int? {
        for i in 2..<(jpeg.count - 8) where jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0 {
            return i + 5
        }
        return nil
    }

    static let mexitalyPrompt = """
        A professional photograph of a beautifully crafted hand-painted gold leaf sign on a glass window pane. The central focus is the text 'MEXITALY' rendered in an elegant, red and gold script font. Below it, in larger, bold, gold beveled letters with a deep red shadow and gold outline, are the words 'TORNABUONI'. Underneath, in smaller, teal and cream script lettering, is 'Strada64', followed by 'BarandRestaurant' on the final line in the same teal and cream script style. The entire text composition is framed by intricate gold and teal decorative flourishes and stylized star motifs. The reflection of a warm, bustling European street, specifically Via de' Tornabuoni in Florence with its historic architecture and pedestrian crowds at twilight, is visible through the glass pane, adding depth to the image. The glass itself has a slight texture. The perspective is a straight-on medium shot, capturing the details of the lettering and the atmospheric reflection.
        """
}

/// Deterministic byte generator for fuzz-style tests.
struct TestRNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}
