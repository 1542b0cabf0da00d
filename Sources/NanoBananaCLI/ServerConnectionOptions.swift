import ArgumentParser
import Server

/// How `serve`'s HTTP server treats its connections: the timeouts and the cap. Each is a
/// setting's flag, taken as text: ``ServerConfiguration/init(values:)`` checks it exactly as
/// it checks the variable.
struct ServerConnectionOptions: ParsableArguments {
    @Option(
        name: .setting(.idleTimeout),
        help: ArgumentHelp(
            "Seconds a connection may wait between requests before it is closed. [NANO_BANANA_IDLE_TIMEOUT] (default: 60)",
            valueName: "seconds"))
    var idleTimeout: String?

    @Option(
        name: .setting(.headerTimeout),
        help: ArgumentHelp(
            "Seconds from a request's first byte to the end of its headers. [NANO_BANANA_HEADER_TIMEOUT] (default: 10)",
            valueName: "seconds"))
    var headerTimeout: String?

    @Option(
        name: .setting(.bodyReadTimeout),
        help: ArgumentHelp(
            "Seconds a request body may go without a byte arriving. [NANO_BANANA_BODY_TIMEOUT] (default: 30)",
            valueName: "seconds"))
    var bodyTimeout: String?

    @Option(
        name: .setting(.writeTimeout),
        help: ArgumentHelp(
            "Seconds a response may go without the client reading any of it. [NANO_BANANA_WRITE_TIMEOUT] (default: 30)",
            valueName: "seconds"))
    var writeTimeout: String?

    @Option(
        name: .setting(.maxConnections),
        help: ArgumentHelp(
            "Connections open at once; more are answered 503 and closed. [NANO_BANANA_MAX_CONNECTIONS] (default: 8192, or the open-file limit less 128 if lower)",
            valueName: "n"))
    var maxConnections: String?

    /// Puts these flags over their variables.
    func override(_ values: inout ConfigurationValues) {
        values.override(.idleTimeout, with: idleTimeout)
        values.override(.headerTimeout, with: headerTimeout)
        values.override(.bodyReadTimeout, with: bodyTimeout)
        values.override(.writeTimeout, with: writeTimeout)
        values.override(.maxConnections, with: maxConnections)
    }
}
