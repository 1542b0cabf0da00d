import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Resolves host names with the system's `getaddrinfo`, on NIO's blocking-I/O thread pool,
/// so that every address can be checked before anything connects.
enum HostResolver {
    /// All TCP addresses of `host`, with `port` set; empty when the name does not resolve.
    static func resolve(_ host: String, port: Int) async throws -> [SocketAddress] {
        try await NIOThreadPool.singleton.runIfActive { resolveBlocking(host, port: port) }
    }

    static func resolveBlocking(_ host: String, port: Int) -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
            hints.ai_socktype = SOCK_STREAM
        #else
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(first) }

        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            guard let raw = info.pointee.ai_addr else { continue }
            switch info.pointee.ai_family {
            case AF_INET:
                var address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                address.sin_port = in_port_t(UInt16(port)).bigEndian
                addresses.append(SocketAddress(address, host: host))
            case AF_INET6:
                var address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                address.sin6_port = in_port_t(UInt16(port)).bigEndian
                addresses.append(SocketAddress(address, host: host))
            default:
                continue
            }
        }
        return addresses
    }
}
