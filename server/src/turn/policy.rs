//! Who the relay serves and where it may send: peer address ranges that are refused,
//! and allocation quotas per user and per node.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use super::own_host::OwnHost;
pub use super::ranges::DeniedRange;
use super::ranges::{classify, embedded_v4};

/// Which peers the relay may talk to.
#[derive(Debug)]
pub struct PeerPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub host: OwnHost,
    /// Exact addresses allowed whatever their range: the self-test's own echo socket.
    exempt: Mutex<HashSet<SocketAddr>>,
}

impl PeerPolicy {
    pub fn new(allow_loopback: bool, allow_private: bool, host: OwnHost) -> Self {
        Self { allow_loopback, allow_private, host, exempt: Mutex::new(HashSet::new()) }
    }

    /// `Err` with the range when relaying to or from `peer` is refused. The IPv4
    /// addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo, ...) are judged
    /// like the address itself: a datagram may end up there.
    pub fn check(&self, peer: SocketAddr) -> Result<(), DeniedRange> {
        if self.exempt.lock().expect("exempt set lock").contains(&peer) {
            return Ok(());
        }
        for inside in embedded_v4(peer.ip()) {
            self.check_ip(IpAddr::V4(inside), peer.port())?;
        }
        self.check_ip(peer.ip(), peer.port())
    }

    fn check_ip(&self, ip: IpAddr, port: u16) -> Result<(), DeniedRange> {
        let range = classify(ip);
        let loopback = range == Some(DeniedRange::Loopback);
        if loopback || (range != Some(DeniedRange::Unspecified) && self.host.owns(ip)) {
            // This host. Its listeners never, whatever the settings; its relay sockets
            // always (peers of this relay reach each other through them).
            if self.host.is_listener(port) {
                return Err(DeniedRange::OwnHost);
            }
            if self.host.is_relay(ip, port) {
                return Ok(());
            }
            return match (loopback, self.allow_loopback) {
                (true, true) => Ok(()),
                (true, false) => Err(DeniedRange::Loopback),
                (false, _) => Err(DeniedRange::OwnHost),
            };
        }
        let allowed = match range {
            None => true,
            Some(DeniedRange::Private | DeniedRange::LinkLocal | DeniedRange::Reserved) => self.allow_private,
            Some(
                DeniedRange::Loopback
                | DeniedRange::Multicast
                | DeniedRange::Unspecified
                | DeniedRange::OwnHost,
            ) => false,
        };
        match range {
            Some(range) if !allowed => Err(range),
            _ => Ok(()),
        }
    }

    /// Allows `peer` until the returned guard is dropped.
    /// Whether a permission for `peer`'s address may be installed: yes where some
    /// exempt address shares it, otherwise as [`Self::check`] says.
    pub fn check_permission(&self, peer: SocketAddr) -> Result<(), DeniedRange> {
        if self.exempt.lock().expect("exempt set lock").iter().any(|e| e.ip() == peer.ip()) {
            return Ok(());
        }
        self.check(peer)
    }

    /// Relays to `peer` for as long as the server runs (the server's own SFU, which
    /// relay-only participants reach through this relay).
    pub fn allow_always(&self, peer: SocketAddr) {
        self.exempt.lock().expect("exempt set lock").insert(peer);
    }

    pub fn exempt(self: &Arc<Self>, peer: SocketAddr) -> Exemption {
        self.exempt.lock().expect("exempt set lock").insert(peer);
        Exemption { policy: Arc::clone(self), peer }
    }

    /// Counts a relay socket on `port` as live until the returned guard is dropped.
    pub fn relay_socket(self: &Arc<Self>, port: u16) -> RelaySocket {
        self.host.relay_opened(port);
        RelaySocket { policy: Arc::clone(self), port }
    }
}

/// A live relay socket: other allocations on this relay may send to it.
#[derive(Debug)]
pub struct RelaySocket {
    policy: Arc<PeerPolicy>,
    port: u16,
}

impl Drop for RelaySocket {
    fn drop(&mut self) {
        self.policy.host.relay_closed(self.port);
    }
}

pub struct Exemption {
    policy: Arc<PeerPolicy>,
    peer: SocketAddr,
}

impl Drop for Exemption {
    fn drop(&mut self) {
        self.policy.exempt.lock().expect("exempt set lock").remove(&self.peer);
    }
}

/// Why an allocation was refused by quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaExceeded {
    User,
    Total,
}

/// Live allocations per user (the username's user part) and on this node.
#[derive(Debug)]
pub struct Quotas {
    per_user: usize,
    total: usize,
    live: Mutex<Live>,
}

#[derive(Debug, Default)]
struct Live {
    by_user: HashMap<String, usize>,
    total: usize,
}

impl Quotas {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self { per_user, total, live: Mutex::new(Live::default()) }
    }

    /// Whether `user` may have one more allocation now.
    pub fn check(&self, user: &str) -> Result<(), QuotaExceeded> {
        let live = self.live.lock().expect("quota lock");
        if live.total >= self.total {
            return Err(QuotaExceeded::Total);
        }
        if live.by_user.get(user).copied().unwrap_or(0) >= self.per_user {
            return Err(QuotaExceeded::User);
        }
        Ok(())
    }

    /// Counts one allocation for `user` until the slot is dropped.
    pub fn take(self: &Arc<Self>, user: &str) -> Result<Slot, QuotaExceeded> {
        let mut live = self.live.lock().expect("quota lock");
        if live.total >= self.total {
            return Err(QuotaExceeded::Total);
        }
        let count = live.by_user.entry(user.to_owned()).or_insert(0);
        if *count >= self.per_user {
            return Err(QuotaExceeded::User);
        }
        *count += 1;
        live.total += 1;
        Ok(Slot { quotas: Arc::clone(self), user: user.to_owned() })
    }

    pub fn live_total(&self) -> usize {
        self.live.lock().expect("quota lock").total
    }
}

/// One live allocation in the quota.
#[derive(Debug)]
pub struct Slot {
    quotas: Arc<Quotas>,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut live = self.quotas.live.lock().expect("quota lock");
        live.total = live.total.saturating_sub(1);
        if let Some(count) = live.by_user.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                live.by_user.remove(&self.user);
            }
        }
    }
}

/// Unauthenticated requests (401 challenges) per second, per source address and on the
/// node. Each one leaves a nonce in the `turn` crate that it never forgets, so their rate
/// bounds how fast forged traffic can grow its memory; a client needs one or two per
/// allocation.
const CHALLENGES_PER_IP: f64 = 5.0;
const CHALLENGE_BURST_PER_IP: f64 = 20.0;
const CHALLENGES_PER_NODE: f64 = 50.0;
const CHALLENGE_BURST_PER_NODE: f64 = 200.0;
/// Source addresses remembered before idle ones are forgotten.
const REMEMBERED_SOURCES: usize = 10_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64, now: Instant) -> Self {
        Self { tokens: burst, at: now }
    }

    fn refill(&mut self, rate: f64, burst: f64, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.at = now;
    }
}

/// Token buckets for unauthenticated requests.
#[derive(Debug)]
pub struct ChallengeBudget {
    buckets: Mutex<(Bucket, HashMap<IpAddr, Bucket>)>,
}

impl Default for ChallengeBudget {
    fn default() -> Self {
        let now = Instant::now();
        Self { buckets: Mutex::new((Bucket::full(CHALLENGE_BURST_PER_NODE, now), HashMap::new())) }
    }
}

impl ChallengeBudget {
    /// Takes one challenge for `ip`, if both its bucket and the node's have one.
    pub fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let mut guard = self.buckets.lock().expect("challenge lock");
        let (node, sources) = &mut *guard;
        node.refill(CHALLENGES_PER_NODE, CHALLENGE_BURST_PER_NODE, now);
        if sources.len() >= REMEMBERED_SOURCES {
            // Full buckets carry no information: forget them.
            sources.retain(|_, b| {
                b.refill(CHALLENGES_PER_IP, CHALLENGE_BURST_PER_IP, now);
                b.tokens < CHALLENGE_BURST_PER_IP
            });
        }
        let source = sources.entry(ip).or_insert_with(|| Bucket::full(CHALLENGE_BURST_PER_IP, now));
        source.refill(CHALLENGES_PER_IP, CHALLENGE_BURST_PER_IP, now);
        if node.tokens < 1.0 || source.tokens < 1.0 {
            return false;
        }
        node.tokens -= 1.0;
        source.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("socket address")
    }

    /// Loopback and private ranges closed, as in production; no own addresses.
    fn policy(allow_loopback: bool, allow_private: bool) -> Arc<PeerPolicy> {
        let any = IpAddr::from([0, 0, 0, 0]);
        Arc::new(PeerPolicy::new(allow_loopback, allow_private, OwnHost::new([], any, any)))
    }

    #[test]
    fn internal_ranges_are_refused_and_public_ones_pass() {
        let policy = policy(false, false);
        for (peer, range) in [
            ("127.0.0.1:9", DeniedRange::Loopback),
            ("[::1]:9", DeniedRange::Loopback),
            ("10.1.2.3:9", DeniedRange::Private),
            ("172.16.0.1:9", DeniedRange::Private),
            ("192.168.1.1:9", DeniedRange::Private),
            ("100.64.0.1:9", DeniedRange::Private),
            ("[fd00::1]:9", DeniedRange::Private),
            ("[fec0::1]:9", DeniedRange::Private),
            ("169.254.169.254:80", DeniedRange::LinkLocal),
            ("[fe80::1]:9", DeniedRange::LinkLocal),
            ("224.0.0.1:9", DeniedRange::Multicast),
            ("[ff02::1]:9", DeniedRange::Multicast),
            ("0.0.0.0:9", DeniedRange::Unspecified),
            ("[::]:9", DeniedRange::Unspecified),
            ("255.255.255.255:9", DeniedRange::Unspecified),
            ("192.0.2.1:9", DeniedRange::Reserved),
            ("198.18.0.1:9", DeniedRange::Reserved),
            ("[2001:db8::1]:9", DeniedRange::Reserved),
            ("[2001:2::1]:9", DeniedRange::Reserved),
        ] {
            assert_eq!(policy.check(addr(peer)), Err(range), "{peer} must be refused as {range:?}");
        }
        for peer in ["8.8.8.8:53", "[2001:4860::8888]:53", "100.128.0.1:9"] {
            assert_eq!(policy.check(addr(peer)), Ok(()), "{peer} is a public address");
        }
    }

    #[test]
    fn ipv6_forms_of_denied_ipv4_ranges_are_refused() {
        let policy = policy(false, false);
        for (peer, range, form) in [
            ("[::ffff:127.0.0.1]:9", DeniedRange::Loopback, "IPv4-mapped loopback"),
            ("[::ffff:10.0.0.1]:9", DeniedRange::Private, "IPv4-mapped private"),
            ("[::127.0.0.1]:9", DeniedRange::Loopback, "IPv4-compatible loopback"),
            ("[::8.8.8.8]:9", DeniedRange::Unspecified, "IPv4-compatible form, deprecated"),
            ("[::ffff:0:7f00:1]:9", DeniedRange::Loopback, "IPv4-translated loopback"),
            ("[64:ff9b::7f00:1]:9", DeniedRange::Loopback, "NAT64 to loopback"),
            ("[64:ff9b::a9fe:a9fe]:80", DeniedRange::LinkLocal, "NAT64 to cloud metadata"),
            ("[64:ff9b::c0a8:101]:9", DeniedRange::Private, "NAT64 to a LAN address"),
            ("[64:ff9b:1::808:808]:9", DeniedRange::Private, "local-use NAT64 prefix"),
            ("[64:ff9b:1::7f00:1]:9", DeniedRange::Loopback, "local-use NAT64 to loopback"),
            ("[2002:7f00:1::1]:9", DeniedRange::Loopback, "6to4 around loopback"),
            ("[2002:a00:1::1]:9", DeniedRange::Private, "6to4 around 10.0.0.1"),
            ("[2002:e000:1::1]:9", DeniedRange::Multicast, "6to4 around 224.0.0.1"),
            ("[2001:0:4136:e378:8000:63bf:80ff:fffe]:9", DeniedRange::Loopback, "Teredo client 127.0.0.1"),
            ("[2001:0:a00:1:8000:63bf:bec9:fefe]:9", DeniedRange::Private, "Teredo server 10.0.0.1"),
        ] {
            assert_eq!(policy.check(addr(peer)), Err(range), "{peer} ({form}) must be refused as {range:?}");
        }
        for (peer, form) in [
            ("[::ffff:8.8.8.8]:53", "IPv4-mapped public address"),
            ("[64:ff9b::808:808]:53", "NAT64 to a public address"),
            ("[2002:808:808::1]:53", "6to4 around a public address"),
            ("[2001:0:4136:e378:8000:63bf:bec9:fefe]:53", "Teredo, public server and client (65.54.1.1)"),
        ] {
            assert_eq!(policy.check(addr(peer)), Ok(()), "{peer}: {form} reaches only the public internet");
        }
    }

    #[test]
    fn the_servers_own_addresses_are_refused() {
        let public = IpAddr::from([100, 128, 0, 7]); // TURN_PUBLIC_IP, behind NAT
        let lan = IpAddr::from([10, 0, 0, 5]); // TURN_BIND
        let http = IpAddr::from([100, 128, 0, 8]); // the HTTP listener's address
                                                   // LAN peers allowed, so only the own-host rule can refuse the LAN address.
        let policy = Arc::new(PeerPolicy::new(false, true, OwnHost::new([lan, public, http], lan, public)));
        for (peer, why) in [
            ("100.128.0.7:5432", "the host's public address (a database behind it)"),
            ("100.128.0.8:22", "the HTTP listener's address"),
            ("10.0.0.5:6379", "TURN_BIND, even with private peers allowed"),
            ("[::ffff:100.128.0.7]:5432", "the public address, IPv4-mapped"),
            ("[64:ff9b::6480:7]:5432", "the public address through NAT64"),
            ("[2002:6480:7::1]:5432", "the public address inside 6to4"),
        ] {
            assert_eq!(policy.check(addr(peer)), Err(DeniedRange::OwnHost), "{peer}: {why}");
        }
        assert_eq!(policy.check(addr("10.0.0.6:6379")), Ok(()), "another LAN host is a peer like any other");

        let relay = policy.relay_socket(50_000);
        assert_eq!(policy.check(addr("100.128.0.7:50000")), Ok(()), "a live relay socket: relay to relay");
        assert_eq!(policy.check(addr("10.0.0.5:50000")), Ok(()), "the relay is bound there");
        assert_eq!(
            policy.check(addr("100.128.0.8:50000")),
            Err(DeniedRange::OwnHost),
            "relays are not bound to the HTTP address"
        );
        drop(relay);
        assert_eq!(
            policy.check(addr("100.128.0.7:50000")),
            Err(DeniedRange::OwnHost),
            "closed: refused again"
        );
    }

    #[test]
    fn the_servers_listeners_are_refused_even_with_loopback_allowed() {
        let policy = policy(true, false);
        policy.host.add_listener(3478); // TURN
        policy.host.add_listener(4000); // HTTP
        assert_eq!(policy.check(addr("127.0.0.1:9")), Ok(()), "loopback peers allowed for tests");
        for peer in ["127.0.0.1:3478", "127.0.0.1:4000", "[::1]:4000", "[::ffff:127.0.0.1]:3478"] {
            assert_eq!(
                policy.check(addr(peer)),
                Err(DeniedRange::OwnHost),
                "{peer}: the server's own listener"
            );
        }
        let _relay = policy.relay_socket(3478);
        assert_eq!(
            policy.check(addr("127.0.0.1:3478")),
            Err(DeniedRange::OwnHost),
            "a listener port stays refused whatever else uses the number"
        );
    }

    #[test]
    fn every_interface_address_is_the_servers_own() {
        let policy = policy(false, true);
        policy.host.refresh_interfaces();
        let found = policy.host.interface_addresses();
        assert!(found.contains(&IpAddr::from([127, 0, 0, 1])), "every machine has loopback: {found:?}");
        for ip in found {
            let peer = SocketAddr::new(ip, 9);
            let expected = if ip.is_loopback() { DeniedRange::Loopback } else { DeniedRange::OwnHost };
            // Nothing is sent: this only asks the policy.
            assert_eq!(policy.check(peer), Err(expected), "{peer} is an interface address of this host");
        }
    }

    #[test]
    fn settings_and_exemptions_open_ranges() {
        let policy = policy(true, false);
        assert_eq!(policy.check(addr("127.0.0.1:9")), Ok(()), "loopback allowed for tests");
        assert_eq!(policy.check(addr("10.0.0.1:9")), Err(DeniedRange::Private));
        assert_eq!(policy.check(addr("224.0.0.1:9")), Err(DeniedRange::Multicast), "never allowed");
        assert_eq!(policy.check(addr("[::]:9")), Err(DeniedRange::Unspecified), "never allowed");
        let guard = policy.exempt(addr("10.0.0.1:9"));
        assert_eq!(policy.check(addr("10.0.0.1:9")), Ok(()), "an exempt address passes");
        assert_eq!(policy.check(addr("10.0.0.1:10")), Err(DeniedRange::Private), "only that port");
        drop(guard);
        assert_eq!(policy.check(addr("10.0.0.1:9")), Err(DeniedRange::Private), "until the guard ends");
        let private = self::policy(false, true);
        for peer in ["10.0.0.1:9", "[fd00::1]:9", "[fe80::1]:9", "192.0.2.1:9"] {
            assert_eq!(private.check(addr(peer)), Ok(()), "{peer}: TURN_ALLOW_PRIVATE_PEERS opens it");
        }
    }

    #[test]
    fn challenges_are_rationed_per_source_and_per_node() {
        let budget = ChallengeBudget::default();
        let start = Instant::now();
        let ip = |n: u8| IpAddr::from([203, 0, 113, n]);
        let granted = (0..100).filter(|_| budget.allow_at(ip(1), start)).count();
        assert_eq!(granted, 20, "one source gets its burst, then waits");
        let later = start + std::time::Duration::from_secs(1);
        let granted = (0..100).filter(|_| budget.allow_at(ip(1), later)).count();
        assert_eq!(granted, 5, "and then its rate");
        let granted =
            (2..=40).flat_map(|n| (0..20).map(move |_| n)).filter(|n| budget.allow_at(ip(*n), later)).count();
        assert!(granted <= 200 + 50, "many sources together stay within the node's budget, got {granted}");
    }

    #[test]
    fn quotas_count_live_allocations() {
        let quotas = Arc::new(Quotas::new(2, 3));
        let a1 = quotas.take("ann").expect("first");
        let _a2 = quotas.take("ann").expect("second");
        assert_eq!(quotas.take("ann").map(|_| ()), Err(QuotaExceeded::User));
        let _b1 = quotas.take("bob").expect("bob has his own quota");
        assert_eq!(quotas.check("cy"), Err(QuotaExceeded::Total), "the node is full");
        drop(a1);
        assert_eq!(quotas.check("ann"), Ok(()), "a closed allocation frees its slot");
        assert_eq!(quotas.live_total(), 2);
    }
}
