import Engines
import Foundation
import Logging
import NanoBananaAPI
import ServiceLifecycle
import Store

/// Delivers the webhook outbox: claims the events that are due (on any node; a claimed
/// attempt is this node's until its lease runs out), renders each body once, signs it with
/// its key's secret, posts it (``WebhookSender``), and records the attempt and what the
/// ``WebhookRetryPolicy`` makes of it. It runs beside the workers and the API, never in
/// their way: a slow receiver holds only one of this service's ``concurrency`` slots.
struct WebhookDispatcher: Service {
    let outbox: any WebhookOutbox
    let registry: any WebhookRegistry
    let payloads: WebhookPayloads
    let sender: WebhookSender
    let policy: WebhookRetryPolicy
    let clock: any WallClock
    /// Counts each attempt by its outcome.
    let metrics: WebhookInstruments
    let logger: Logger
    /// Deliveries in flight at once.
    var concurrency = 16
    /// The longest pause between two looks at the outbox.
    var idlePoll: Duration = .seconds(1)

    /// How long a claimed attempt is this node's: the attempt's timeout and room to
    /// render, sign and record.
    var lease: TimeInterval { policy.timeout + 10 }

    func run() async throws {
        // A store that stays unreachable is reported once, not at every look.
        var failing = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            var pause = idlePoll
            do {
                let events = try await outbox.claimDue(limit: concurrency, lease: lease)
                if failing { logger.info("Webhook dispatch resumed") }
                failing = false
                if !events.isEmpty {
                    await deliver(events)
                    continue
                }
                if let due = try await outbox.nextDue() {
                    let wait = due.timeIntervalSince(clock.now())
                    pause = min(idlePoll, .milliseconds(Int64(max(0.02, wait) * 1000)))
                }
            } catch {
                if !failing {
                    logger.warning(
                        "Webhook dispatch failed; trying again every second", metadata: ["error": "\(error)"])
                }
                failing = true
            }
            let sleep = pause
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: sleep) }
        }
    }

    /// Delivers claimed events side by side, except that one request's events to one URL
    /// go one after the other, oldest first (`processing` before `completed`); returns
    /// when every attempt is recorded.
    func deliver(_ events: [WebhookEvent]) async {
        var lines: [[WebhookEvent]] = []
        var lineOf: [String: Int] = [:]
        for event in events {
            let name = event.jobID + " " + event.url
            if let index = lineOf[name] {
                lines[index].append(event)
            } else {
                lineOf[name] = lines.count
                lines.append([event])
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for line in lines {
                group.addTask {
                    for event in line { await deliver(event) }
                }
            }
        }
    }

    func deliver(_ event: WebhookEvent) async {
        let started = clock.now()
        var payload = event.payload
        var outcome: (statusCode: Int?, error: String?, latency: Duration)
        do {
            if payload == nil { payload = try await payloads.render(event) }
            if let payload {
                let secret = try await registry.webhookSecret(event.keyID, rotate: false)
                outcome = await post(event, payload: payload, secret: secret, at: started)
            } else {
                outcome = (nil, "the request expired before its first delivery", .zero)
            }
        } catch {
            outcome = (nil, "the delivery could not be prepared", .zero)
            logger.warning(
                "Could not prepare a webhook delivery", metadata: ["event": "\(event.id)", "error": "\(error)"])
        }
        let decision =
            payload == nil
            ? WebhookRetryPolicy.Decision.exhausted
            : policy.decide(attempt: event.attempts, statusCode: outcome.statusCode)
        metrics.attempted(decision)
        log(event, decision: decision, statusCode: outcome.statusCode, error: outcome.error)
        let (state, next) = Self.state(of: decision, now: clock.now())
        let attempt = WebhookAttempt(
            eventID: event.id, number: event.attempts, at: started, statusCode: outcome.statusCode,
            error: outcome.error, latencyMilliseconds: Int(outcome.latency / .milliseconds(1)))
        do {
            let recorded = try await outbox.record(attempt, payload: payload, state: state, nextAttemptAt: next)
            if !recorded {
                logger.notice("A webhook attempt outlived its lease", metadata: ["event": "\(event.id)"])
            }
        } catch {
            // Unrecorded, the attempt comes due again when its lease runs out.
            logger.warning(
                "Could not record a webhook attempt", metadata: ["event": "\(event.id)", "error": "\(error)"])
        }
    }

    /// One line per attempt, as a job's transitions have theirs: the job's and the event's
    /// ids, the event's type, the attempt, its outcome and the receiver's status (or why
    /// there was none). Never the URL, whose query may hold a receiver's token.
    private func log(_ event: WebhookEvent, decision: WebhookRetryPolicy.Decision, statusCode: Int?, error: String?) {
        var metadata: Logger.Metadata = [
            "job_id": "\(event.jobID)", "key_id": "\(event.keyID)", "webhook_event_id": "\(event.id)",
            "webhook_event": "\(event.type.wireType)", "attempt": .stringConvertible(event.attempts),
            "outcome": "\(decision.outcome.rawValue)",
        ]
        if let statusCode { metadata["status_code"] = .stringConvertible(statusCode) }
        if let error { metadata["error"] = "\(error)" }
        switch decision {
        case .delivered: logger.info("Webhook delivered", metadata: metadata)
        case .retry(let delay):
            metadata["retry_in_seconds"] = .stringConvertible(Int(delay.rounded()))
            logger.warning("Webhook delivery failed; trying again later", metadata: metadata)
        case .gone: logger.notice("Webhook gone: the receiver answered 410; no more attempts", metadata: metadata)
        case .exhausted: logger.warning("Webhook delivery failed; no more attempts", metadata: metadata)
        }
    }

    /// Signs and posts the body; the timestamp is the attempt's.
    private func post(
        _ event: WebhookEvent, payload: String, secret: String, at time: Date
    ) async -> (statusCode: Int?, error: String?, latency: Duration) {
        guard let key = WebhookSignature.key(fromSecret: secret) else {
            return (nil, "the key's signing secret is unreadable", .zero)
        }
        let body = Array(payload.utf8)
        let timestamp = Int(time.timeIntervalSince1970)
        let headers = [
            (WebhookSignature.idHeader, event.id), (WebhookSignature.timestampHeader, String(timestamp)),
            (
                WebhookSignature.signatureHeader,
                WebhookSignature.sign(id: event.id, timestamp: timestamp, body: body, key: key)
            ),
        ]
        let answer = await sender.post(
            url: event.url, headers: headers, body: body, timeout: .milliseconds(Int64(policy.timeout * 1000)))
        return (answer.statusCode, answer.error, answer.latency)
    }

    /// The event's state after a decision, and when it is next due.
    static func state(of decision: WebhookRetryPolicy.Decision, now: Date) -> (WebhookEventState, Date?) {
        switch decision {
        case .delivered: (.delivered, nil)
        case .gone: (.gone, nil)
        case .exhausted: (.exhausted, nil)
        case .retry(let delay): (.pending, now.addingTimeInterval(delay))
        }
    }
}
