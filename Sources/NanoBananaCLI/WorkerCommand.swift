import ArgumentParser
import Foundation
import Logging
import Server
import ServiceLifecycle
import Store

/// `nano-banana worker`: a node that only runs jobs, from a PostgreSQL store that API nodes
/// (`serve --no-workers`) fill. It listens on no port, but the metrics one if asked.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs from a PostgreSQL store, without serving the API.",
        discussion: """
            Start as many as the work needs, on any machines that reach the database. SIGTERM \
            (or Ctrl-C) lets running jobs finish for --drain-timeout seconds (default 10), then \
            hands the rest back to the queue.
            """
    )

    @Option(
        name: .setting(.host, short: "H"),
        help: ArgumentHelp(
            "Interface the --metrics-port listener binds to. [NANO_BANANA_HOST] (default: 127.0.0.1)",
            valueName: "address"))
    var host: String?

    @OptionGroup var node: NodeOptions

    func run() async throws {
        var configuration = try node.configuration { $0.override(.host, with: host) }
        configuration.runsWorkers = true
        guard configuration.storeURL != nil else {
            throw ValidationError(
                "A worker needs a shared store: pass --store postgres://… (or set NANO_BANANA_STORE). With the embedded store, `serve` runs the workers itself."
            )
        }
        guard configuration.workers > 0 else { throw ValidationError("--workers must be at least 1 for a worker.") }
        let logger = node.logger(configuration)
        let components = try await node.openComponents(configuration, logger: logger)
        logger.info(
            "Starting worker node",
            metadata: [
                "engine": "\(components.engineName)", "models": "\(components.modelSlugs.joined(separator: ","))",
                "store": "\(node.storeDescription(configuration))", "workers": "\(configuration.workers)",
            ])
        let group = ServiceGroup(
            configuration: .init(
                services: buildServices(components, logger: logger) + [ShutdownHerald(components)],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
