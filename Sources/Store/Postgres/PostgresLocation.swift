import Foundation
import PostgresNIO

/// Where a PostgreSQL store lives, parsed from a `postgres://user:password@host:port/database`
/// URL. Two query items are understood: `sslmode` (`disable`, `prefer`, the default, or
/// `require`) and `schema`, which keeps this deployment's tables (and its notification
/// channel) in a schema of its own, so several deployments, or test runs, can share one
/// database.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var schema: String?
    public var tls: TLSMode

    /// Whether `string` names a PostgreSQL store rather than a SQLite file.
    public static func isPostgresURL(_ string: String) -> Bool {
        string.hasPrefix("postgres://") || string.hasPrefix("postgresql://")
    }

    public init(url string: String) throws(InvalidStoreURL) {
        guard Self.isPostgresURL(string), let components = URLComponents(string: string), let host = components.host,
            !host.isEmpty
        else {
            throw InvalidStoreURL(url: string, problem: "it is not a PostgreSQL URL with a host")
        }
        self.host = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? 5432
        username = components.user.flatMap { $0.removingPercentEncoding } ?? "postgres"
        password = components.password.flatMap { $0.removingPercentEncoding }
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? username : path
        tls = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = TLSMode(rawValue: item.value ?? "") else {
                    throw InvalidStoreURL(url: string, problem: "sslmode must be disable, prefer or require")
                }
                tls = mode
            case "schema":
                guard let name = item.value, Self.isPlainIdentifier(name) else {
                    throw InvalidStoreURL(
                        url: string, problem: "schema must be letters, digits and underscores, starting with a letter")
                }
                schema = name
            default:
                throw InvalidStoreURL(url: string, problem: "unknown option '\(item.name)' (known: sslmode, schema)")
            }
        }
    }

    /// The URL without its password, for logs.
    public var description: String {
        var text = "postgres://\(username)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        if let schema { text += "?schema=\(schema)" }
        return text
    }

    /// `string` with any password replaced by `***`, for messages.
    public static func redacted(_ string: String) -> String {
        guard let scheme = string.range(of: "://"), let at = string[scheme.upperBound...].lastIndex(of: "@"),
            let colon = string[scheme.upperBound..<at].firstIndex(of: ":")
        else { return string }
        return string.replacingCharacters(in: string.index(after: colon)..<at, with: "***")
    }

    static func isPlainIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIILetter, name.count <= 48 else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "_" }
    }

    func clientConfiguration(maxConnections: Int) -> PostgresClient.Configuration {
        let tlsConfiguration: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: tlsConfiguration = .disable
        case .prefer: tlsConfiguration = .prefer(.makeClientConfiguration())
        case .require: tlsConfiguration = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: tlsConfiguration)
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectTimeout = .seconds(5)
        if let schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        return configuration
    }
}

extension Unicode.Scalar {
    fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}

/// A `--store` value that is not a usable PostgreSQL URL.
public struct InvalidStoreURL: Error, Sendable, CustomStringConvertible {
    public var url: String
    public var problem: String

    public var description: String { "Invalid store URL '\(PostgresLocation.redacted(url))': \(problem)." }
}
