// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "NanoBananaServer",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nano-banana", targets: ["NanoBananaCLI"]),
        .library(name: "NanoBananaAPI", targets: ["NanoBananaAPI"]),
        .library(name: "NanoBananaClient", targets: ["NanoBananaClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: Wire types shared by server and clients
        // Crypto signs and verifies webhook deliveries (``WebhookSignature``), a part of the wire.
        .target(name: "NanoBananaAPI", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The OpenAPI document (openapi.json), compiled into the binary.
        .target(name: "Contract", dependencies: ["NanoBananaAPI"], resources: [.embedInCode("openapi.json")]),

        // MARK: Images: codecs, text, the preview artwork
        .target(
            name: "CJPEGTurbo",
            linkerSettings: [.linkedLibrary("jpeg")]
        ),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2", providers: [.apt(["libfreetype-dev"])]),
        .target(name: "Imaging", dependencies: ["CJPEGTurbo", "CPNG", "CFreeType"]),

        // MARK: Engines that make the image
        .target(
            name: "Engines",
            dependencies: [
                "NanoBananaAPI",
                "Imaging",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),

        // MARK: Storage: durable queue, keys, blobs
        .target(
            name: "Store",
            dependencies: [
                "NanoBananaAPI",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The pool's error type, to tell an outage from a bug without string matching.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // MARK: HTTP server, workers, lifecycle
        .target(
            name: "Server",
            dependencies: [
                "NanoBananaAPI",
                "Contract",
                "Store",
                "Engines",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The HTTP/1.1 server's builder, to add the connection handlers.
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                // The HTTP parser's errors and the parts the connection handlers see.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // MARK: The Swift SDK
        .target(
            name: "NanoBananaClient",
            dependencies: [
                "NanoBananaAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),

        // MARK: The command-line tool
        .executableTarget(
            name: "NanoBananaCLI",
            dependencies: [
                "Server",
                "Store",
                "NanoBananaClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Tests
        .testTarget(name: "NanoBananaAPITests", dependencies: ["NanoBananaAPI"]),
        .testTarget(
            name: "NanoBananaClientTests",
            dependencies: [
                "NanoBananaClient",
                "Server",
                "Store",
                "Engines",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // What the test targets share: a log recorder.
        .target(
            name: "TestSupport", dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"),
        .testTarget(name: "StoreTests", dependencies: ["Store", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(
            name: "EnginesTests",
            dependencies: [
                "Engines",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server",
                "Contract",
                "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // A raw loopback client, for what an HTTP client library will not send or do.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
    ]
)
