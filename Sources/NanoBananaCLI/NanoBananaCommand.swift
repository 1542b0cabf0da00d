import ArgumentParser
import Foundation

@main
struct NanoBananaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nano-banana",
        abstract: "A self-hosted serverless image API for Nano Banana 2, and its client.",
        subcommands: [
            ServeCommand.self, WorkerCommand.self, KeysCommand.self, RunCommand.self, SubmitCommand.self,
            StatusCommand.self,
            ResultCommand.self, WaitCommand.self, UploadCommand.self, CreditsCommand.self,
            WebhooksCommand.self,
        ]
    )

    /// Like ArgumentParser's own `main`, except that usage errors exit with 2 (as the
    /// client commands document) rather than 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
