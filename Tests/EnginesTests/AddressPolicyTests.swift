import NIOCore
import Testing

@testable import Engines

@Suite("Address policy")
struct AddressPolicyTests {
    func forbidden(_ ip: String) throws -> Bool {
        AddressPolicy.isForbidden(try SocketAddress(ipAddress: ip, port: 80))
    }

    @Test(
        "IPv4 special-purpose ranges are refused up to their edges",
        arguments: [
            "0.0.0.0", "0.255.255.255", "10.0.0.0", "10.255.255.255", "100.64.0.0", "100.127.255.255",
            "127.0.0.1", "127.255.255.255", "169.254.0.0", "169.254.169.254", "169.254.255.255",
            "172.16.0.0", "172.31.255.255", "192.0.0.0", "192.0.0.255", "192.0.2.0", "192.0.2.255",
            "192.168.0.0", "192.168.255.255", "198.18.0.0", "198.19.255.255", "198.51.100.0", "198.51.100.255",
            "203.0.113.0", "203.0.113.255", "224.0.0.0", "239.255.255.255", "240.0.0.0", "255.255.255.254",
            "255.255.255.255", "192.88.99.0", "192.88.99.255",
        ])
    func ipv4Inside(ip: String) throws {
        #expect(try forbidden(ip))
    }

    @Test(
        "IPv4 addresses just outside the refused ranges are allowed",
        arguments: [
            "1.0.0.0", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
            "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255", "172.32.0.0", "191.255.255.255",
            "192.0.1.0", "192.0.3.0", "192.167.255.255", "192.169.0.0", "198.17.255.255", "198.20.0.0",
            "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0", "223.255.255.255", "8.8.8.8",
        ])
    func ipv4Outside(ip: String) throws {
        #expect(try !forbidden(ip))
    }

    @Test(
        "IPv6 special-purpose ranges and embedded private IPv4 are refused",
        arguments: [
            "::", "::1", "::2", "::8.8.8.8", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b:1::1",
            "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fd00:ec2::254", "fe80::", "febf::1",
            "fec0::1", "feff::1", "ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::",
            "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2002:a00:1::1", "2002:7f00:1::",
            // IPv4-translated (SIIT) loopback and private, Teredo, the rest of 2001::/23,
            // discard-only, and the newer documentation block.
            "::ffff:0:7f00:1", "::ffff:0:a00:1", "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "100::", "100::ffff:ffff:ffff:ffff", "3fff::1",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        ])
    func ipv6Inside(ip: String) throws {
        #expect(try forbidden(ip))
    }

    @Test(
        "IPv6 addresses just outside the refused ranges are allowed",
        arguments: [
            "0:0:0:1::", "::1:0:0:0", "::fffe:808:808", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "64:ff9a::a00:1",
            "64:ff9b:2::a00:1", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe7f:ffff::1",
            "2001:db7:ffff::1", "2001:db9::", "2002:808:808::1", "2606:4700:4700::1111",
            "::ffff:0:808:808", "2001:200::1", "100:0:0:1::", "3ffe:ffff::1", "3fff:1000::1",
        ])
    func ipv6Outside(ip: String) throws {
        #expect(try !forbidden(ip))
    }

    @Test("byte helpers refuse addresses of the wrong length")
    func wrongLength() {
        #expect(AddressPolicy.isForbidden(ipv4: [8, 8, 8]))
        #expect(AddressPolicy.isForbidden(ipv6: [UInt8](repeating: 0x20, count: 15)))
        #expect(!AddressPolicy.isForbidden(ipv4: [8, 8, 8, 8]))
    }

    @Test("unix domain sockets are refused")
    func unixSocket() throws {
        #expect(AddressPolicy.isForbidden(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")))
    }
}
