import ArgumentParser
import Foundation
import NanoBananaAPI
import NanoBananaClient
import Synchronization

/// `nano-banana run "prompt" …`: submit, show progress, download the image.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Turn a prompt into an image file.",
        discussion: "Exit codes: 0 done, 1 the job failed, 2 usage error, 3 timed out (the request id is printed).")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var generation: GenerationOptions

    @Option(name: .shortAndLong, help: "Where to write the image (default: nano-banana-<request id>.<format>).")
    var output: String?

    @Flag(name: .long, help: "Print the result body as JSON instead of writing progress.")
    var json = false

    @Option(name: .long, help: "Seconds to wait before giving up (the job goes on).")
    var timeout: Double = 600

    func run() async throws {
        let client = try connection.client()
        let job = try await client.submitAsync(
            try generation.parameters(), webhook: generation.webhookRequest, idempotencyKey: generation.idempotencyKey)
        try await WaitPrinter(json: json).finish(job, timeout: timeout, output: output)
    }
}

/// Follows a job with live progress (its event stream, or long-polls on a server without
/// one) on a terminal (plain lines otherwise), then writes the image. The timeout holds to
/// the millisecond; the job goes on after it.
struct WaitPrinter {
    let json: Bool
    let isTerminal = isatty(STDERR_FILENO) == 1

    func finish(_ job: AsyncJob, timeout: Double, output: String?) async throws {
        let start = ContinuousClock.now
        let progress = Progress(requestID: job.requestID, start: start, isTerminal: isTerminal, quiet: json)
        let result: GenerationResult
        do {
            progress.show("QUEUED")
            result = try await job.wait(timeout: .milliseconds(Int64(max(0, timeout) * 1000))) { status in
                var line = status.status.rawValue
                if let position = status.queuePosition { line += "  queue position \(position)" }
                progress.show(line)
            }
        } catch let failure as InferenceFailed {
            progress.end()
            FileHandle.standardError.write(Data("Failed: \(failure.detail ?? "no detail")\n".utf8))
            throw ClientExit.failed
        } catch let timeout as InferenceTimeout {
            progress.end()
            let waited = String(format: "%.3f", timeout.elapsed)
            FileHandle.standardError.write(
                Data(
                    "Timed out after \(waited) s; the job goes on. Resume with: nano-banana wait \(job.requestID)\n"
                        .utf8))
            print(job.requestID)
            throw ClientExit.timedOut
        }
        progress.show("COMPLETED")
        progress.end()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(result.body), as: UTF8.self))
            return
        }
        let path = output ?? "nano-banana-\(job.requestID).\(result.body.outputFormat.fileExtension)"
        try Data(try await result.image()).write(to: URL(fileURLWithPath: path))
        print("Wrote \(path) (\(result.body.width)×\(result.body.height), \(result.body.engine)).")
    }
}

/// The progress line: redrawn in place on a terminal, one line per change otherwise.
final class Progress: Sendable {
    let requestID: String
    let start: ContinuousClock.Instant
    let isTerminal: Bool
    let quiet: Bool
    private let last = Mutex("")

    init(requestID: String, start: ContinuousClock.Instant, isTerminal: Bool, quiet: Bool) {
        self.requestID = requestID
        self.start = start
        self.isTerminal = isTerminal
        self.quiet = quiet
    }

    func show(_ state: String) {
        guard !quiet else { return }
        let line = "\(requestID)  \(state)"
        let changed = last.withLock { last in
            defer { last = line }
            return last != line
        }
        guard changed else { return }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let text = line + String(format: "  %.1fs", seconds)
        FileHandle.standardError.write(Data((isTerminal ? "\r\u{1B}[2K" + text : text + "\n").utf8))
    }

    /// Ends the redrawn line.
    func end() {
        if isTerminal && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// `nano-banana submit …`: prints the request id.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit", abstract: "Submit a prompt; print the request id.")

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var generation: GenerationOptions

    func run() async throws {
        print(
            try await connection.client().submitAsync(
                try generation.parameters(), webhook: generation.webhookRequest,
                idempotencyKey: generation.idempotencyKey
            ).requestID)
    }
}

/// `nano-banana status ID`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print a request's status as JSON.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String

    func run() async throws {
        let status = try await connection.client().job(requestID: requestID).status()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(status), as: UTF8.self))
        if status.status == .failed { throw ClientExit.failed }
    }
}

/// `nano-banana webhooks ID [--redeliver]`.
struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Print a request's webhook events and every delivery attempt as JSON.")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    @Flag(name: .long, help: "Send the final event again first (same webhook-id).") var redeliver = false

    func run() async throws {
        let client = try connection.client()
        if redeliver { _ = try await client.redeliverWebhook(requestID: requestID) }
        let deliveries = try await client.webhooks(requestID: requestID)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(deliveries), as: UTF8.self))
    }
}

/// `nano-banana result ID [-o file]` and `nano-banana wait ID`.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result", abstract: "Download a finished request's image (or print its JSON).")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    @Option(name: .shortAndLong, help: "Where to write the image.") var output: String?
    @Flag(name: .long, help: "Print the result body as JSON.") var json = false

    func run() async throws {
        try await WaitPrinter(json: json).finish(
            connection.client().job(requestID: requestID), timeout: 0, output: output)
    }
}

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait", abstract: "Wait for a request, then download its image (or print its JSON).")

    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    @Option(name: .shortAndLong, help: "Where to write the image.") var output: String?
    @Flag(name: .long, help: "Print the result body as JSON.") var json = false
    @Option(name: .long, help: "Seconds to wait.") var timeout: Double = 600

    func run() async throws {
        try await WaitPrinter(json: json).finish(
            connection.client().job(requestID: requestID), timeout: timeout, output: output)
    }
}
