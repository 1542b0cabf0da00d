import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The cluster's wake-ups, over PostgreSQL's `LISTEN/NOTIFY` on one channel per deployment.
/// The stores announce, in the transaction that causes it, a new job (`queued`), a finished
/// one (`finished:ID`) and a change of keys (`keys`); every node listens on one pooled
/// connection and hands each event to its handlers.
///
/// Notifications are a fast path, not a guarantee: while the listening connection is down
/// they are lost. So on every (re)connection ``Handlers/resynchronize`` runs, and the nodes
/// keep polling slowly as well (idle workers, v1 waiters, the key cache's lifetime).
public struct PostgresEvents: Sendable {
    public struct Handlers: Sendable {
        /// A job was queued: wake a worker.
        public var jobQueued: @Sendable () -> Void
        /// A job reached COMPLETED or FAILED (on any node).
        public var jobFinished: @Sendable (String) -> Void
        /// A key was created, changed or revoked.
        public var keysChanged: @Sendable () -> Void
        /// The listener (re)connected: events in between may have been missed.
        public var resynchronize: @Sendable () -> Void

        public init(
            jobQueued: @escaping @Sendable () -> Void, jobFinished: @escaping @Sendable (String) -> Void,
            keysChanged: @escaping @Sendable () -> Void, resynchronize: @escaping @Sendable () -> Void
        ) {
            self.jobQueued = jobQueued
            self.jobFinished = jobFinished
            self.keysChanged = keysChanged
            self.resynchronize = resynchronize
        }
    }

    static let queuedPayload = "queued"
    static let keysPayload = "keys"
    static func finishedPayload(_ jobID: String) -> String { "finished:" + jobID }

    let database: PostgresDatabase
    let handlers: Handlers
    let pingInterval: Duration
    let pingTimeout: Duration

    public init(
        database: PostgresDatabase, handlers: Handlers, pingInterval: Duration = .seconds(15),
        pingTimeout: Duration = .seconds(5)
    ) {
        self.database = database
        self.handlers = handlers
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
    }

    /// Listens until cancelled, reconnecting with a growing pause (up to 5 s) after a failure.
    public func run() async {
        var pause = Duration.milliseconds(100)
        let logger = database.logger
        var wasDown = false
        while !Task.isCancelled {
            do {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: database.channel) { notifications in
                        if wasDown { logger.info("Listening for cluster events again") }
                        wasDown = false
                        pause = .milliseconds(100)
                        handlers.resynchronize()
                        try await listen(to: notifications)
                    }
                }
            } catch {
                if Task.isCancelled { return }
                if PostgresDatabase.translate(error) is StoreUnavailable { database.markUnreachable() }
                if !wasDown {
                    logger.warning(
                        "Lost the cluster event listener; polling until it is back",
                        metadata: ["error": "\(PostgresDatabase.translate(error))"])
                }
                wasDown = true
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    /// Dispatches notifications until the connection fails, or until it goes quiet: a
    /// leased connection gets no keep-alive, so a half-open one would otherwise be listened
    /// to forever. Every ``pingInterval`` this node notifies itself; a ping that does not
    /// come back within ``pingTimeout`` ends the listening, and ``run()`` reconnects.
    private func listen(to notifications: PostgresNotificationSequence) async throws {
        let ping = "ping:" + UUID().uuidString
        let lastHeard = LastHeard()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await notification in notifications {
                    if notification.payload == ping {
                        lastHeard.mark()
                    } else {
                        dispatch(notification.payload)
                    }
                }
                throw StoreUnavailable(reason: "the listening connection ended")
            }
            group.addTask {
                let logger = database.logger
                let channel = database.channel
                while true {
                    try await Task.sleep(for: pingInterval)
                    let sent = ContinuousClock.now
                    _ = try? await database.withConnection { connection in
                        try await connection.rows("SELECT pg_notify(\(channel), \(ping))", logger: logger).count
                    }
                    try await Task.sleep(for: pingTimeout)
                    if lastHeard.instant < sent {
                        throw StoreUnavailable(reason: "the listening connection stopped answering")
                    }
                }
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func dispatch(_ payload: String) {
        if payload == Self.queuedPayload {
            handlers.jobQueued()
        } else if payload.hasPrefix("finished:") {
            handlers.jobFinished(String(payload.dropFirst("finished:".count)))
        } else if payload == Self.keysPayload {
            handlers.keysChanged()
        }
    }
}

/// When the listener last heard its own ping.
private final class LastHeard: Sendable {
    private let value = Mutex(ContinuousClock.now)

    var instant: ContinuousClock.Instant { value.withLock { $0 } }

    func mark() { value.withLock { $0 = .now } }
}
