//! The client's address: the connection's peer, or, when that peer is a reverse proxy
//! we were told to trust (`TRUSTED_PROXIES`), the address that proxy says it forwarded.
//!
//! Per-address limits (login throttling, write rates, connection caps) key on this, so
//! a forwarded header is believed only from a trusted peer: anyone else could pick a
//! fresh address for every request and never be limited.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Networks whose `X-Forwarded-For` / `Forwarded` headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address to hold the client to. Forwarded hops are read right to left (the
    /// rightmost was appended by the proxy nearest to us); the first hop that is not
    /// itself a trusted proxy is the client. A hop that cannot be read ends the walk at
    /// the last proxy we trust, so a garbled header never lets a caller pick its address.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_hops(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => client = *ip,
                Some(ip) => return *ip,
                None => return client,
            }
        }
        client
    }
}

/// Parses one `TRUSTED_PROXIES` entry: a CIDR (`10.0.0.0/8`) or a single address.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    IpNet::from_str(text)
        .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an address nor a CIDR network"))
}

/// IPv4 clients of a dual-stack listener arrive as `::ffff:a.b.c.d`; hold them to their
/// IPv4 address so one client has one key.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The forwarded chain, client first: from `Forwarded` (RFC 7239) when present, else
/// `X-Forwarded-For`. `None` marks a hop that is not an address (`unknown`, obfuscated).
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().map(str::to_owned).unwrap_or_default())
            .flat_map(|v| v.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded.iter().map(|element| forwarded_for(element)).collect();
    }
    values("x-forwarded-for").iter().map(|hop| address(hop)).collect()
}

/// The `for=` parameter of one `Forwarded` element.
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| address(value.trim().trim_matches('"')))?
    })
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:443`.
fn address(text: &str) -> Option<IpAddr> {
    let ip = IpAddr::from_str(text)
        .ok()
        .or_else(|| SocketAddr::from_str(text).ok().map(|s| s.ip()))
        .or_else(|| IpAddr::from_str(text.trim_start_matches('[').trim_end_matches(']')).ok())?;
    Some(canonical(ip))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|s| parse_network(s).expect("test network")).collect())
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(none.client(ip("198.51.100.1"), &h), ip("198.51.100.1"), "nobody is trusted by default");
        let some = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            some.client(ip("198.51.100.1"), &h),
            ip("198.51.100.1"),
            "a peer outside the trusted networks cannot choose its address"
        );
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let p = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.1.1")]);
        assert_eq!(
            p.client(ip("192.0.2.7"), &h),
            ip("203.0.113.9"),
            "6.6.6.6 was written by the client itself, so only the hop our proxies saw counts"
        );
        let split = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.9:5555")]);
        assert_eq!(p.client(ip("10.0.0.2"), &split), ip("203.0.113.9"), "repeated headers form one chain");
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for() {
        let p = proxies(&["127.0.0.1/32"]);
        let h = headers(&[
            ("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.9.9.9"),
            ("x-forwarded-for", "203.0.113.1"),
        ]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("10.9.9.9"), "10.9.9.9 is not a trusted proxy here");
        let p = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(p.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
    }

    #[test]
    fn garbled_or_missing_hops_stop_at_the_last_trusted_proxy() {
        let p = proxies(&["10.0.0.0/8"]);
        assert_eq!(p.client(ip("10.0.0.1"), &headers(&[])), ip("10.0.0.1"));
        let h = headers(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.5")]);
        assert_eq!(
            p.client(ip("10.0.0.1"), &h),
            ip("10.0.0.5"),
            "an unreadable hop must not let the next one (client-written) be believed"
        );
    }

    #[test]
    fn mapped_ipv4_peers_are_held_to_their_ipv4_address() {
        let p = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "::ffff:203.0.113.9")]);
        assert_eq!(p.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.9"));
    }

    #[test]
    fn settings_accept_networks_and_single_addresses_only() {
        assert!(parse_network("10.0.0.0/8").is_ok());
        assert!(parse_network(" 2001:db8::/32 ").is_ok());
        assert_eq!(parse_network("192.0.2.1").map(|n| n.prefix_len()), Ok(32));
        assert!(parse_network("proxy.example").is_err(), "names would be resolved anew by nobody");
        assert!(parse_network("10.0.0.0/33").is_err());
    }
}
