import ArgumentParser
import Foundation
import NanoBananaAPI
import NanoBananaClient

/// `nano-banana upload FILE…`.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload images; print a link for each, to pass as a reference image (--ref or image_urls).")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "PNG, JPEG or WebP files.") var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("Name at least one file to upload.") }
    }

    func run() async throws {
        let images = try files.map { path -> (bytes: [UInt8], mimeType: String) in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("Cannot read '\(path)'.")
            }
            let bytes = [UInt8](data)
            guard let type = ImageType.sniff(bytes) else {
                throw ValidationError("'\(path)' is not a PNG, JPEG or WebP image.")
            }
            return (bytes, type)
        }
        for link in try await connection.client().upload(images) { print(link) }
    }
}

/// `nano-banana credits`.
struct CreditsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "credits", abstract: "Print the key's credits (or that it is not metered).")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        if let credits = try await connection.client().credits() {
            print(credits)
        } else {
            print("not metered")
        }
    }
}

/// What an image file is, by its first bytes.
enum ImageType {
    static func sniff(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)), Array(bytes[8..<12]) == Array("WEBP".utf8) {
            return "image/webp"
        }
        return nil
    }
}
