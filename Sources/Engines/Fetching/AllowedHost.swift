/// One entry of the operator's fetch allow-list: a host, and the one port it is allowed on
/// (`nil`: every port). Written `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`; a bare IPv6
/// literal (`fd00::1`) is a host with no port.
public struct AllowedHost: Sendable, Hashable, CustomStringConvertible {
    /// Lowercased; an IPv6 literal without brackets.
    public let host: String
    public let port: Int?

    public init(host: String, port: Int? = nil) {
        self.host = host.lowercased()
        self.port = port
    }

    /// Parses an entry; `nil` when it is empty or its port is not in 1…65535.
    public init?(parsing text: String) {
        var rest = Substring(text.lowercased())
        var port: Int?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let number = Int(after.dropFirst()) else { return nil }
                port = number
            }
            rest = rest[rest.index(after: rest.startIndex)..<close]
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            guard let number = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = number
            rest = rest[..<colon]
        }
        if let port, !(1...65535).contains(port) { return nil }
        guard !rest.isEmpty, !rest.contains(where: { $0 == "/" || $0 == "@" || $0.isWhitespace }) else { return nil }
        self.init(host: String(rest), port: port)
    }

    public var description: String {
        guard let port else { return host }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension AllowedHost: ExpressibleByStringLiteral {
    /// A literal entry, as in tests: it must parse.
    public init(stringLiteral text: String) {
        guard let entry = AllowedHost(parsing: text) else { preconditionFailure("not a host entry: \(text)") }
        self = entry
    }
}

extension Set<AllowedHost> {
    /// Whether an entry allows `host` (lowercased, IPv6 without brackets) on `port`.
    public func allows(host: String, port: Int) -> Bool {
        contains { $0.host == host && ($0.port == nil || $0.port == port) }
    }
}
