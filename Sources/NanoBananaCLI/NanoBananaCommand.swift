import ArgumentParser

@main
struct NanoBananaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nano-banana",
        abstract: "A self-hosted serverless image API for Nano Banana 2.",
        subcommands: [ServeCommand.self, KeysCommand.self]
    )
}
