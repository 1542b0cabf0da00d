import ArgumentParser
import Foundation
import Store

/// `nano-banana keys …`: manage API keys in the data directory, also while a server runs.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list and revoke API keys.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "The server's data directory. [NANO_BANANA_DATA_DIR] (default: ./data)")
        var dataDir: String?

        func openKeys() throws -> any APIKeyStore {
            let directory =
                dataDir ?? ProcessInfo.processInfo.environment["NANO_BANANA_DATA_DIR"] ?? "./data"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let database = try SQLiteDatabase(
                path: URL(fileURLWithPath: directory).appendingPathComponent("nano-banana.sqlite").path)
            return SQLiteAPIKeyStore(database: database)
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key; its secret is printed once, as the last line.")

        @Option(name: .long, help: "A name to recognise the key by.")
        var name: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let created = try await store.openKeys().create(name: name)
            print("Created key \(created.key.id) (\(created.key.name)). Its secret, shown only now:")
            print(created.secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let keys = try await store.openKeys().list()
            guard !keys.isEmpty else {
                print("No keys yet. Create one with: nano-banana keys create --name NAME")
                return
            }
            print(
                "ID".padding(toLength: 22, withPad: " ", startingAt: 0)
                    + "NAME".padding(toLength: 20, withPad: " ", startingAt: 0)
                    + "PREFIX      CREATED               STATUS")
            for key in keys {
                let status = key.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                print(
                    key.id.padding(toLength: 22, withPad: " ", startingAt: 0)
                        + key.name.padding(toLength: 20, withPad: " ", startingAt: 0)
                        + key.prefix.padding(toLength: 12, withPad: " ", startingAt: 0)
                        + key.createdAt.formatted(.iso8601) + "  " + status)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key by id or name; requests with it get 401 at once.")

        @Argument(help: "The key's id (key_…) or its name.")
        var key: String

        @OptionGroup var store: StoreOptions

        func run() async throws {
            // An APIKeyError prints as its sentence, with exit code 1 and no usage text.
            let revoked = try await store.openKeys().revoke(key)
            print("Revoked key \(revoked.id) (\(revoked.name)).")
        }
    }
}
