import ArgumentParser
import Foundation
import Logging
import Server
import Store

/// `nano-banana keys …`: manage API keys in the data directory, also while a server runs.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, show, update, top up and revoke API keys.",
        subcommands: [
            Create.self, List.self, Show.self, Update.self, TopUp.self, Disable.self, Enable.self, Revoke.self,
            WebhookSecretCommand.self,
        ]
    )

    struct StoreOptions: ParsableArguments {
        @Option(name: .long, help: "The server's data directory. [NANO_BANANA_DATA_DIR] (default: ./data)")
        var dataDir: String?

        @Option(name: .long, help: "The cluster's PostgreSQL store, as given to `serve`. [NANO_BANANA_STORE]")
        var store: String?

        /// Runs `body` with the key store; a PostgreSQL pool runs (and the schema is
        /// migrated) for that long, then closes.
        func withKeys<T: Sendable>(
            _ body: @escaping @Sendable (any APIKeyStore & WebhookRegistry) async throws -> T
        ) async throws -> T {
            var values = ConfigurationValues(environment: ProcessInfo.processInfo.environment)
            values.override(.dataDirectory, with: dataDir)
            values.override(.store, with: store)
            let configuration: ServerConfiguration
            do {
                configuration = try ServerConfiguration(storeFrom: values)
            } catch {
                throw ValidationError(error.description)
            }
            LogOutput.bootstrap(configuration.logFormat, level: .warning)
            if let location = configuration.postgresLocation {
                var logger = Logger(label: "nano-banana")
                logger.logLevel = .warning
                let database = PostgresDatabase(location: location, logger: logger, maxConnections: 2)
                return try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask {
                        await database.run()
                        return nil
                    }
                    defer { group.cancelAll() }
                    try await database.waitUntilRunning()
                    try await database.migrate()
                    return try await body(PostgresAPIKeyStore(database: database))
                }
            }
            let directory = configuration.dataDirectory
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let database = try SQLiteDatabase(
                path: URL(fileURLWithPath: directory).appendingPathComponent("nano-banana.sqlite").path)
            return try await body(SQLiteAPIKeyStore(database: database))
        }
    }

    /// One existing key, by id or name, in a data directory.
    struct KeyTarget: ParsableArguments {
        @Argument(help: "The key's id (key_…) or its name.")
        var key: String

        @OptionGroup var store: StoreOptions

        func setDisabled(_ disabled: Bool) async throws -> APIKey {
            let key = key
            return try await store.withKeys {
                try await $0.setAccess(key, role: nil, allowedModels: nil, disabled: disabled)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key; its secret is printed once, as the last line.")

        @Option(name: .long, help: "A name to recognise the key by.")
        var name: String

        @Option(name: .long, help: "Start a metered key with this many credits (default: unmetered).")
        var credits: Int?

        @Option(name: .long, help: "Requests per minute for this key (default: the server's; 0: none).")
        var rpm: Int?

        @Option(name: .long, help: "Requests allowed in a burst above the rate (default: a sixth of --rpm).")
        var burst: Int?

        @Option(
            name: .long, help: "QUEUED + PROCESSING requests at once for this key (default: the server's; 0: none).")
        var maxInFlight: Int?

        @Option(name: .long, help: "Model slugs this key may use, comma-separated (default: all).")
        var models: String?

        @Flag(name: .long, help: "Make an admin key, which may use the /admin routes.")
        var admin = false

        @Option(
            name: .long,
            help: "A default webhook for the key's requests (completed and failed events), http(s).")
        var webhook: String?

        @OptionGroup var store: StoreOptions

        func validate() throws {
            if let credits, !(0...StoreMaxima.credits).contains(credits) {
                throw ValidationError("--credits must be 0 to \(StoreMaxima.credits).")
            }
            for (flag, value) in [("--rpm", rpm), ("--burst", burst), ("--max-in-flight", maxInFlight)] {
                if let value, !(0...StoreMaxima.limit).contains(value) {
                    throw ValidationError("\(flag) must be 0 (no limit) to \(StoreMaxima.limit).")
                }
            }
        }

        func run() async throws {
            let slugs = models.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let spec = APIKeySpec(
                name: name, credits: credits, role: admin ? .admin : .user, allowedModels: slugs,
                requestsPerMinute: rpm, burst: burst, maxInFlight: maxInFlight, webhookURL: webhook)
            let created = try await store.withKeys { try await $0.create(spec) }
            print("Created key \(created.key.id) (\(created.key.name)). Its secret, shown only now:")
            print(created.secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")

        @OptionGroup var store: StoreOptions

        func run() async throws {
            let keys = try await store.withKeys { try await $0.list() }
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
            abstract:
                "Revoke a key by id or name; requests with it get 401 at once, and its QUEUED requests fail as cancelled (refunded)."
        )

        @OptionGroup var target: KeyTarget

        func run() async throws {
            // An APIKeyError prints as its sentence, with exit code 1 and no usage text.
            let reference = target.key
            let revoked = try await target.store.withKeys { try await $0.revoke(reference) }
            print("Revoked key \(revoked.id) (\(revoked.name)).")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Disable a key: its requests get 403 until it is enabled again, and its QUEUED requests fail as cancelled (refunded)."
        )

        @OptionGroup var target: KeyTarget

        func run() async throws {
            let key = try await target.setDisabled(true)
            print("Disabled key \(key.id) (\(key.name)).")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled key again.")

        @OptionGroup var target: KeyTarget

        func run() async throws {
            let key = try await target.setDisabled(false)
            print("Enabled key \(key.id) (\(key.name)).")
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's default webhook.")

        @OptionGroup var target: KeyTarget

        @Option(
            name: .long,
            help:
                "The key's default webhook (completed and failed events), replacing its active ones; \"\" removes them."
        )
        var webhook: String?

        func validate() throws {
            if webhook == nil { throw ValidationError("Say what to change: --webhook URL (or \"\" to remove it).") }
        }

        func run() async throws {
            let reference = target.key
            let url = webhook.flatMap { $0.isEmpty ? nil : $0 }
            let key = try await target.store.withKeys {
                try await $0.update(reference, APIKeyChange(webhookURL: .some(url)))
            }
            let shown = key.defaultWebhookTargets.last?.url ?? "none"
            print("Key \(key.id) (\(key.name)): default webhook \(shown).")
        }
    }

    struct WebhookSecretCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "webhook-secret",
            abstract: "Print the key's webhook signing secret (whsec_…), made on first use; --rotate makes a new one.")

        @OptionGroup var target: KeyTarget

        @Flag(name: .long, help: "Replace the secret: deliveries from now on are signed with the new one.")
        var rotate = false

        func run() async throws {
            let (reference, rotate) = (target.key, rotate)
            print(try await target.store.withKeys { try await $0.webhookSecret(reference, rotate: rotate) })
        }
    }

    struct TopUp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "top-up", abstract: "Add credits to a key (an unmetered key becomes metered).")

        @OptionGroup var target: KeyTarget

        @Argument(help: "Credits to add.")
        var amount: Int

        func run() async throws {
            let (reference, amount) = (target.key, amount)
            let key = try await target.store.withKeys { try await $0.topUp(reference, amount: amount) }
            print("Key \(key.id) (\(key.name)) now has \(key.credits ?? 0) credits.")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a key's balance and the latest lines of its credit history.")

        @OptionGroup var target: KeyTarget

        @Option(name: .long, help: "Lines of the credit history to print, the newest; 0: all. (default: 20)")
        var ledgerLimit = 20

        func validate() throws {
            if ledgerLimit < 0 { throw ValidationError("--ledger-limit must be 0 (all) or more.") }
        }

        func run() async throws {
            let reference = target.key
            // One line more than asked tells whether older lines were left out.
            let limit = ledgerLimit == 0 ? nil : ledgerLimit + 1
            var (key, ledger) = try await target.store.withKeys {
                try await $0.show(reference, ledgerLimit: limit, before: nil)
            }
            let complete = limit.map { ledger.count < $0 } ?? true
            if !complete { ledger.removeFirst() }
            print("Key:      \(key.id) (\(key.name))")
            print("Status:   \(key.revokedAt != nil ? "revoked" : key.isDisabled ? "disabled" : "active")")
            print("Role:     \(key.role.rawValue); models: \(key.allowedModels?.joined(separator: ", ") ?? "all")")
            print("Credits:  \(key.credits.map(String.init) ?? "unmetered")")
            print("Webhook:  \(key.defaultWebhookTargets.map(\.url).joined(separator: ", ").nonEmpty ?? "none")")
            print(
                "Limits:   rpm \(key.requestsPerMinute.map(String.init) ?? "server default"), burst \(key.burst.map(String.init) ?? "default"), in flight \(key.maxInFlight.map(String.init) ?? "server default")"
            )
            guard !ledger.isEmpty else { return }
            print("")
            print("WHEN                  KIND      AMOUNT   BALANCE  REQUEST")
            for entry in ledger {
                print(
                    entry.createdAt.formatted(.iso8601) + "  "
                        + entry.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
                        + String(entry.amount).leftPadded(to: 8) + String(entry.balanceAfter).leftPadded(to: 10)
                        + "  " + (entry.requestID ?? ""))
            }
            if complete {
                print("Sum of the history: \(ledger.reduce(0) { $0 &+ $1.amount })")
            } else {
                print("(the latest \(ledger.count) lines; --ledger-limit 0 prints them all)")
            }
        }
    }
}

extension String {
    fileprivate var nonEmpty: String? { isEmpty ? nil : self }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
