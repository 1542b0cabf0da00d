import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How long the HTTP server lets a connection wait on its client, and how many it keeps
/// open at once. Each has a flag (see ``ConfigurationSetting``); the defaults suit a
/// gateway behind a proxy as well as one facing clients directly.
public struct ConnectionLimits: Sendable, Equatable {
    /// Seconds a connection may sit between requests (keep-alive) before it is closed.
    /// Default 60.
    public var idleTimeout: TimeInterval = 60
    /// Seconds from a request's first byte to the end of its headers: a client that sends
    /// its headers slower is closed (slowloris). Default 10.
    public var headerTimeout: TimeInterval = 10
    /// Seconds a request body may go without a byte arriving. Default 30.
    public var bodyReadTimeout: TimeInterval = 30
    /// Seconds a response may go without the client taking any of it (while the server's
    /// buffer for the connection is full). Default 30.
    public var writeTimeout: TimeInterval = 30
    /// Connections open at once; one more is answered 503 and closed. Default
    /// ``defaultMaxConnections``.
    public var maxConnections = ConnectionLimits.defaultMaxConnections

    public init() {}

    /// File descriptors kept for everything but client connections: the store's files and
    /// connections, the fetch client's sockets, the listening socket, logs.
    static let reservedDescriptors = 128

    /// The most connections this process can hold: its open-file limit less the
    /// descriptors it needs for everything else (at least 1).
    public static var mostConnections: Int {
        var limit = rlimit()
        #if canImport(Glibc)
            let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
            let resource = RLIMIT_NOFILE
        #endif
        // No limit (RLIM_INFINITY) or none known: a million, far beyond what a process holds.
        guard getrlimit(resource, &limit) == 0 else { return 1 << 20 }
        return max(1, min(1 << 20, Int(clamping: limit.rlim_cur)) - reservedDescriptors)
    }

    /// 8192 (room for thousands of long-polls and event streams beside the rest), or fewer
    /// when the open-file limit is lower (``mostConnections``).
    public static var defaultMaxConnections: Int { min(8192, mostConnections) }
}
