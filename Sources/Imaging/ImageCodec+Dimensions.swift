extension ImageCodec {
    /// Reads width and height from the header alone (JPEG SOF marker, PNG IHDR),
    /// without decoding pixels. Returns `nil` for other formats, damaged headers or
    /// zero dimensions. The PNG IHDR CRC is not verified here; `decode` verifies it.
    public static func dimensions(of bytes: [UInt8]) -> (width: Int, height: Int)? {
        switch ImageFormat.sniff(bytes) {
        case .jpeg: jpegDimensions(bytes)
        case .png: pngDimensions(bytes)
        case .webp, nil: nil
        }
    }

    private static func be16(_ b: [UInt8], _ i: Int) -> Int {
        Int(b[i]) << 8 | Int(b[i + 1])
    }

    private static func pngDimensions(_ b: [UInt8]) -> (width: Int, height: Int)? {
        // Signature (8) + chunk length (4) + "IHDR" (4) + width (4) + height (4).
        guard b.count >= 24, b[12...15].elementsEqual("IHDR".utf8) else { return nil }
        let w = be16(b, 16) << 16 | be16(b, 18)
        let h = be16(b, 20) << 16 | be16(b, 22)
        guard w > 0, h > 0, w <= Int(Int32.max), h <= Int(Int32.max) else { return nil }
        return (w, h)
    }

    private static func jpegDimensions(_ b: [UInt8]) -> (width: Int, height: Int)? {
        var i = 2
        let n = b.count
        while i < n {
            guard b[i] == 0xFF else { return nil }
            while i < n && b[i] == 0xFF { i += 1 }  // fill bytes
            guard i < n else { return nil }
            let marker = b[i]
            i += 1
            switch marker {
            case 0x01, 0xD0...0xD8:
                continue  // standalone markers carry no length
            case 0xD9, 0xDA:
                return nil  // end of image / start of scan before any frame header
            default:
                break
            }
            guard i + 1 < n else { return nil }
            let length = be16(b, i)
            guard length >= 2 else { return nil }
            let isSOF = (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
            if isSOF {
                guard length >= 7, i + 6 < n else { return nil }
                let h = be16(b, i + 3), w = be16(b, i + 5)
                return w > 0 && h > 0 ? (w, h) : nil
            }
            i += length
        }
        return nil
    }
}
