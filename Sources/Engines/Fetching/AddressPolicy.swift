import NIOCore

/// Which network addresses the server refuses to fetch reference images from.
///
/// A client-supplied URL must never make the server reach into its own network (loopback,
/// private ranges, cloud metadata endpoints) or reserved space. IPv6 forms that embed an
/// IPv4 address (IPv4-mapped, IPv4-translated, NAT64, 6to4) are judged by the embedded
/// address; Teredo, whose embedded address is obfuscated, is refused whole.
public enum AddressPolicy {
    /// A CIDR block: the leading `prefixLength` bits of `prefix` must match.
    struct Block {
        let prefix: [UInt8]
        let prefixLength: Int

        func contains(_ bytes: [UInt8]) -> Bool {
            guard bytes.count == prefix.count else { return false }
            var remaining = prefixLength
            for index in prefix.indices where remaining > 0 {
                let bits = min(remaining, 8)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if bytes[index] & mask != prefix[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    /// Refused IPv4 blocks (RFC 6890 special-purpose and non-unicast space).
    static let forbiddenIPv4: [Block] = [
        Block(prefix: [0, 0, 0, 0], prefixLength: 8),  // "this network"
        Block(prefix: [10, 0, 0, 0], prefixLength: 8),  // private
        Block(prefix: [100, 64, 0, 0], prefixLength: 10),  // carrier-grade NAT
        Block(prefix: [127, 0, 0, 0], prefixLength: 8),  // loopback
        Block(prefix: [169, 254, 0, 0], prefixLength: 16),  // link-local, cloud metadata
        Block(prefix: [172, 16, 0, 0], prefixLength: 12),  // private
        Block(prefix: [192, 0, 0, 0], prefixLength: 24),  // IETF protocol assignments
        Block(prefix: [192, 0, 2, 0], prefixLength: 24),  // TEST-NET-1
        Block(prefix: [192, 88, 99, 0], prefixLength: 24),  // 6to4 relay anycast (deprecated)
        Block(prefix: [192, 168, 0, 0], prefixLength: 16),  // private
        Block(prefix: [198, 18, 0, 0], prefixLength: 15),  // benchmarking
        Block(prefix: [198, 51, 100, 0], prefixLength: 24),  // TEST-NET-2
        Block(prefix: [203, 0, 113, 0], prefixLength: 24),  // TEST-NET-3
        Block(prefix: [224, 0, 0, 0], prefixLength: 4),  // multicast
        Block(prefix: [240, 0, 0, 0], prefixLength: 4),  // reserved, and 255.255.255.255 broadcast
    ]

    /// Refused IPv6 blocks, other than those embedding an IPv4 address.
    static let forbiddenIPv6: [Block] = [
        Block(prefix: ipv6([0, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 96),  // ::, ::1, IPv4-compatible
        Block(prefix: ipv6([0xFC00, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 7),  // unique local, incl. fd00:ec2::254
        Block(prefix: ipv6([0xFE80, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 10),  // link-local
        Block(prefix: ipv6([0xFEC0, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 10),  // site-local (deprecated)
        Block(prefix: ipv6([0xFF00, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 8),  // multicast
        Block(prefix: ipv6([0x2001, 0x0DB8, 0, 0, 0, 0, 0, 0]), prefixLength: 32),  // documentation
        Block(prefix: ipv6([0x0064, 0xFF9B, 1, 0, 0, 0, 0, 0]), prefixLength: 48),  // local-use NAT64
        Block(prefix: ipv6([0x0100, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 64),  // discard-only
        // IETF protocol assignments: Teredo (2001::/32, which tunnels to an IPv4 address
        // hidden in its last bits), benchmarking, ORCHID; none of it a web server's address.
        Block(prefix: ipv6([0x2001, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 23),
        Block(prefix: ipv6([0x3FFF, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 20),  // documentation (RFC 9637)
    ]

    /// IPv6 blocks whose addresses carry an IPv4 address, judged by that address:
    /// (block, offset of the four IPv4 bytes).
    static let embeddingIPv6: [(block: Block, offset: Int)] = [
        (Block(prefix: ipv6([0, 0, 0, 0, 0, 0xFFFF, 0, 0]), prefixLength: 96), 12),  // IPv4-mapped
        (Block(prefix: ipv6([0, 0, 0, 0, 0xFFFF, 0, 0, 0]), prefixLength: 96), 12),  // IPv4-translated (SIIT)
        (Block(prefix: ipv6([0x0064, 0xFF9B, 0, 0, 0, 0, 0, 0]), prefixLength: 96), 12),  // NAT64
        (Block(prefix: ipv6([0x2002, 0, 0, 0, 0, 0, 0, 0]), prefixLength: 16), 2),  // 6to4
    ]

    /// Whether the server must not connect to `address`. Unix domain sockets are always refused.
    public static func isForbidden(_ address: SocketAddress) -> Bool {
        switch address {
        case .v4(let v4):
            return isForbidden(ipv4: withUnsafeBytes(of: v4.address.sin_addr) { Array($0) })
        case .v6(let v6):
            return isForbidden(ipv6: withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) })
        case .unixDomainSocket:
            return true
        }
    }

    /// Whether the IPv4 address given as four bytes in network order is refused.
    /// Anything that is not four bytes long is refused.
    public static func isForbidden(ipv4 bytes: [UInt8]) -> Bool {
        guard bytes.count == 4 else { return true }
        return forbiddenIPv4.contains { $0.contains(bytes) }
    }

    /// Whether the IPv6 address given as sixteen bytes in network order is refused.
    /// Anything that is not sixteen bytes long is refused.
    public static func isForbidden(ipv6 bytes: [UInt8]) -> Bool {
        guard bytes.count == 16 else { return true }
        for (block, offset) in embeddingIPv6 where block.contains(bytes) {
            return isForbidden(ipv4: Array(bytes[offset..<offset + 4]))
        }
        return forbiddenIPv6.contains { $0.contains(bytes) }
    }

    /// Sixteen bytes from eight 16-bit groups.
    static func ipv6(_ groups: [UInt16]) -> [UInt8] {
        groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
