import AsyncHTTPClient
import Logging
import NIOPosix
import ServiceLifecycle
import Store

/// Prepares the store once its own services run (``StoreBackend/prepare(recoverJobs:logger:)``),
/// then opens the node's ``ServerComponents/started`` latch, which the node's other
/// services and the HTTP server wait for; a failure stops the whole group, so that
/// whatever was opened is shut down.
struct StartupService: Service {
    let components: ServerComponents
    /// Runs once the store is prepared, before anything waits no more (a first run's key).
    let whenPrepared: @Sendable () async throws -> Void
    let logger: Logger

    func run() async throws {
        do {
            try await components.prepare(logger: logger)
            try await whenPrepared()
            components.started.open()
        } catch {
            components.started.fail(error)
            throw error
        }
        try? await gracefulShutdown()
    }
}

/// A service that starts only once the node has started (``StartupService``): until then
/// the store may not be migrated yet. Shut down before that, it never starts.
struct AfterStartup: Service {
    let started: Latch
    let service: any Service

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await started.wait() }
        } catch {
            // Shut down, cancelled or a failed start (which StartupService reports).
            return
        }
        try await service.run()
    }
}

/// Shuts the reference-fetching client down with the rest of the process.
struct HTTPClientService: Service {
    let client: HTTPClient

    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Shuts the render thread pool down with the rest of the process.
struct ThreadPoolService: Service {
    let pool: NIOThreadPool

    func run() async throws {
        try? await gracefulShutdown()
        try await pool.shutdownGracefully()
    }
}

/// Runs the PostgreSQL pool until everything after it in the service group has stopped
/// (services stop in reverse order), then closes it.
struct PostgresPoolService: Service {
    let database: PostgresDatabase

    func run() async throws {
        await cancelWhenGracefulShutdown { await database.run() }
    }
}

/// Listens for the cluster's announcements until shutdown.
struct ClusterEventsService: Service {
    let events: PostgresEvents

    func run() async throws {
        await cancelWhenGracefulShutdown { await events.run() }
    }
}

/// The first service of a node to hear of its shutdown: placed last in the process's
/// service group, which stops services in reverse order, it begins the drain
/// (``ServerComponents/beginDrain()``) before the HTTP server waits for its open requests,
/// so that those requests (v1 waits) and the workers (no new claims) already know.
public struct ShutdownHerald: Service {
    let components: ServerComponents

    public init(_ components: ServerComponents) {
        self.components = components
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch {
            return  // cancelled: the group is stopping without a drain
        }
        components.beginDrain()
    }
}
