import Foundation
import Logging
import PostgresNIO

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

    public init(database: PostgresDatabase, handlers: Handlers) {
        self.database = database
        self.handlers = handlers
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
                        for try await notification in notifications { dispatch(notification.payload) }
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
