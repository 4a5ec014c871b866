//! Address ranges the relay refuses to send to, and the IPv4 addresses that IPv6
//! translation and tunnel forms carry inside them (a datagram to `64:ff9b::7f00:1` ends
//! up at 127.0.0.1 wherever a NAT64 gateway is on the path).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a peer address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedRange {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// RFC 1918, shared address space (100.64/10), unique-local fc00::/7, site-local
    /// fec0::/10, the local-use NAT64 prefix 64:ff9b:1::/48.
    Private,
    /// 169.254/16, fe80::/10.
    LinkLocal,
    Multicast,
    /// 0.0.0.0/8, ::, broadcast, 240/4, IPv4-compatible ::a.b.c.d, the discard prefix
    /// 100::/64: addresses nothing legitimate listens on, never allowed.
    Unspecified,
    /// Blocks that are never routed on the internet: documentation, benchmarking, IETF
    /// protocol assignments, deprecated relay and translation prefixes. A network that
    /// uses one inside (a lab) is a private network to us.
    Reserved,
    /// An address of the server's own host (its interfaces, TURN_BIND, TURN_PUBLIC_IP,
    /// the HTTP listener), other than its relay sockets; or one of its listening sockets.
    OwnHost,
}

impl DeniedRange {
    pub fn label(self) -> &'static str {
        match self {
            DeniedRange::Loopback => "loopback",
            DeniedRange::Private => "private",
            DeniedRange::LinkLocal => "link_local",
            DeniedRange::Multicast => "multicast",
            DeniedRange::Unspecified => "unspecified",
            DeniedRange::Reserved => "reserved",
            DeniedRange::OwnHost => "own_host",
        }
    }

    pub const ALL: [DeniedRange; 7] = [
        DeniedRange::Loopback,
        DeniedRange::Private,
        DeniedRange::LinkLocal,
        DeniedRange::Multicast,
        DeniedRange::Unspecified,
        DeniedRange::Reserved,
        DeniedRange::OwnHost,
    ];
}

/// The range `ip` itself falls in, if the relay treats it specially. The IPv4 addresses
/// it may carry are judged separately: see [`embedded_v4`].
pub fn classify(ip: IpAddr) -> Option<DeniedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<DeniedRange> {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        Some(DeniedRange::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(DeniedRange::Private)
    } else if ip.is_link_local() {
        Some(DeniedRange::LinkLocal)
    } else if ip.is_multicast() {
        Some(DeniedRange::Multicast)
    } else if a == 0 || a >= 240 {
        // 240/4 (future use) includes the broadcast address.
        Some(DeniedRange::Unspecified)
    } else if matches!((a, b, c), (192, 0, 0) | (192, 0, 2) | (192, 88, 99) | (198, 51, 100) | (203, 0, 113))
        || (a == 198 && (b & 0xfe) == 18)
    {
        // IETF protocol assignments (DS-Lite and friends), TEST-NET-1/2/3, the deprecated
        // 6to4 relay anycast, benchmarking 198.18/15.
        Some(DeniedRange::Reserved)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<DeniedRange> {
    let s = ip.segments();
    if ip.is_unspecified() {
        Some(DeniedRange::Unspecified)
    } else if ip.is_loopback() {
        Some(DeniedRange::Loopback)
    } else if ip.to_ipv4_mapped().is_some() || is_nat64(s) {
        None // the IPv4 address inside decides
    } else if s[..6] == [0; 6] {
        // IPv4-compatible ::a.b.c.d, deprecated since 2006 (RFC 4291).
        Some(DeniedRange::Unspecified)
    } else if s[..4] == [0x100, 0, 0, 0] {
        Some(DeniedRange::Unspecified) // discard-only 100::/64 (RFC 6666)
    } else if s[..3] == [0x64, 0xff9b, 1] {
        Some(DeniedRange::Private) // local-use NAT64 (RFC 8215)
    } else if s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        Some(DeniedRange::Reserved) // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765)
    } else if s[0] & 0xfe00 == 0xfc00 || s[0] & 0xffc0 == 0xfec0 {
        Some(DeniedRange::Private) // unique-local fc00::/7, site-local fec0::/10
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some(DeniedRange::LinkLocal)
    } else if ip.is_multicast() {
        Some(DeniedRange::Multicast)
    } else if (s[0], s[1]) == (0x2001, 0xdb8)
        || (s[0] == 0x3fff && s[1] < 0x1000)
        || (s[0], s[1], s[2]) == (0x2001, 2, 0)
        || (s[0] == 0x2001 && s[1] & 0xfff0 == 0x10)
    {
        // Documentation 2001:db8::/32 and 3fff::/20, benchmarking 2001:2::/48, ORCHID
        // 2001:10::/28 (deprecated).
        Some(DeniedRange::Reserved)
    } else {
        None
    }
}

/// The well-known NAT64 prefix 64:ff9b::/96 (RFC 6052).
fn is_nat64(s: [u16; 8]) -> bool {
    s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
}

fn v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

/// The IPv4 addresses a datagram to `ip` may be delivered to: the one inside an
/// IPv4-mapped, IPv4-compatible or IPv4-translated address, a NAT64 address (the
/// well-known prefix, and the local-use one with the /96 layout), a 6to4 address, and
/// both the server and the (obfuscated) client address of a Teredo address.
pub fn embedded_v4(ip: IpAddr) -> Vec<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else { return Vec::new() };
    let s = v6.segments();
    if v6.is_unspecified() || v6.is_loopback() {
        Vec::new()
    } else if (s[..5] == [0; 5] && (s[5] == 0 || s[5] == 0xffff))
        || s[..6] == [0, 0, 0, 0, 0xffff, 0]
        || is_nat64(s)
        || s[..3] == [0x64, 0xff9b, 1]
    {
        // IPv4-compatible ::a.b.c.d, mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d,
        // NAT64: the last 32 bits.
        vec![v4(s[6], s[7])]
    } else if s[0] == 0x2002 {
        vec![v4(s[1], s[2])] // 2002:AABB:CCDD::/48
    } else if (s[0], s[1]) == (0x2001, 0) {
        // Teredo 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the client address inverted.
        vec![v4(s[2], s[3]), v4(!s[6], !s[7])]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP address")
    }

    #[test]
    fn ipv4_ranges() {
        for (addr, range, why) in [
            ("127.0.0.1", DeniedRange::Loopback, "loopback"),
            ("127.255.255.254", DeniedRange::Loopback, "all of 127/8 is this host"),
            ("10.1.2.3", DeniedRange::Private, "RFC 1918"),
            ("172.31.255.1", DeniedRange::Private, "RFC 1918"),
            ("192.168.0.1", DeniedRange::Private, "RFC 1918"),
            ("100.64.0.1", DeniedRange::Private, "carrier-grade NAT space"),
            ("169.254.169.254", DeniedRange::LinkLocal, "cloud metadata lives here"),
            ("224.0.0.251", DeniedRange::Multicast, "mDNS"),
            ("0.0.0.0", DeniedRange::Unspecified, "reaches this host on most systems"),
            ("0.1.2.3", DeniedRange::Unspecified, "this network"),
            ("240.0.0.1", DeniedRange::Unspecified, "reserved for future use"),
            ("255.255.255.255", DeniedRange::Unspecified, "broadcast"),
            ("192.0.0.8", DeniedRange::Reserved, "IETF protocol assignments (DS-Lite)"),
            ("192.0.2.1", DeniedRange::Reserved, "TEST-NET-1"),
            ("198.51.100.7", DeniedRange::Reserved, "TEST-NET-2"),
            ("203.0.113.9", DeniedRange::Reserved, "TEST-NET-3"),
            ("198.18.0.1", DeniedRange::Reserved, "benchmarking"),
            ("198.19.255.255", DeniedRange::Reserved, "benchmarking is a /15"),
            ("192.88.99.1", DeniedRange::Reserved, "deprecated 6to4 relay anycast"),
        ] {
            assert_eq!(classify(ip(addr)), Some(range), "{addr}: {why}");
        }
        for addr in ["8.8.8.8", "100.128.0.1", "198.20.0.1", "172.32.0.1", "1.1.1.1"] {
            assert_eq!(classify(ip(addr)), None, "{addr} is a public address");
        }
    }

    #[test]
    fn ipv6_ranges() {
        for (addr, range, why) in [
            ("::", DeniedRange::Unspecified, "the unspecified address"),
            ("::1", DeniedRange::Loopback, "loopback"),
            ("::8.8.8.8", DeniedRange::Unspecified, "IPv4-compatible form is deprecated"),
            ("100::1", DeniedRange::Unspecified, "discard-only prefix"),
            ("::ffff:0:808:808", DeniedRange::Reserved, "IPv4-translated (SIIT) form"),
            ("64:ff9b:1::808:808", DeniedRange::Private, "local-use NAT64 is a local translator"),
            ("fd00::1", DeniedRange::Private, "unique-local fc00::/7"),
            ("fc00::1", DeniedRange::Private, "unique-local fc00::/7"),
            ("fec0::1", DeniedRange::Private, "site-local fec0::/10"),
            ("feff::1", DeniedRange::Private, "still site-local"),
            ("fe80::1", DeniedRange::LinkLocal, "link-local fe80::/10"),
            ("febf::1", DeniedRange::LinkLocal, "still link-local"),
            ("ff02::1", DeniedRange::Multicast, "all nodes"),
            ("ff0e::1", DeniedRange::Multicast, "global multicast"),
            ("2001:db8::1", DeniedRange::Reserved, "documentation"),
            ("3fff::1", DeniedRange::Reserved, "documentation (RFC 9637)"),
            ("3fff:fff::1", DeniedRange::Reserved, "the end of 3fff::/20"),
            ("2001:2::1", DeniedRange::Reserved, "benchmarking"),
            ("2001:10::1", DeniedRange::Reserved, "ORCHID"),
        ] {
            assert_eq!(classify(ip(addr)), Some(range), "{addr}: {why}");
        }
        for addr in ["2001:4860:4860::8888", "2a00:1450::1", "3fff:1000::1", "2001:3::1", "fbff::1"] {
            assert_eq!(classify(ip(addr)), None, "{addr} is a public address");
        }
        for addr in ["::ffff:127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "2001:0:7f00:1::"] {
            assert_eq!(classify(ip(addr)), None, "{addr}: only the IPv4 address inside decides");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_forms() {
        let v4 = |s: &str| s.parse::<Ipv4Addr>().expect("IPv4");
        for (addr, inside, form) in [
            ("::ffff:127.0.0.1", vec![v4("127.0.0.1")], "IPv4-mapped"),
            ("::10.0.0.1", vec![v4("10.0.0.1")], "IPv4-compatible"),
            ("::ffff:0:a9fe:a9fe", vec![v4("169.254.169.254")], "IPv4-translated"),
            ("64:ff9b::a00:1", vec![v4("10.0.0.1")], "well-known NAT64"),
            ("64:ff9b:1::c0a8:101", vec![v4("192.168.1.1")], "local-use NAT64, /96 layout"),
            ("2002:c0a8:101::1", vec![v4("192.168.1.1")], "6to4"),
            // Teredo: server 65.54.227.120, client 127.0.0.1 stored inverted (0x80ff:fffe).
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", vec![v4("65.54.227.120"), v4("127.0.0.1")], "Teredo"),
        ] {
            assert_eq!(embedded_v4(ip(addr)), inside, "{addr}: {form} carries these IPv4 addresses");
        }
        for addr in ["2001:4860:4860::8888", "::", "::1", "8.8.8.8", "fe80::1"] {
            assert!(embedded_v4(ip(addr)).is_empty(), "{addr} carries no IPv4 address");
        }
    }
}
