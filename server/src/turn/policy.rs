//! Who the relay serves and where it may send: peer address ranges that are refused,
//! and allocation quotas per user and per node.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Why a peer address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeniedRange {
    Loopback,
    /// RFC 1918, shared address space (100.64/10), fc00::/7.
    Private,
    LinkLocal,
    Multicast,
    /// 0.0.0.0/8, ::, broadcast and other addresses nothing legitimate listens on.
    Unspecified,
}

impl DeniedRange {
    pub fn label(self) -> &'static str {
        match self {
            DeniedRange::Loopback => "loopback",
            DeniedRange::Private => "private",
            DeniedRange::LinkLocal => "link_local",
            DeniedRange::Multicast => "multicast",
            DeniedRange::Unspecified => "unspecified",
        }
    }

    pub const ALL: [DeniedRange; 5] = [
        DeniedRange::Loopback,
        DeniedRange::Private,
        DeniedRange::LinkLocal,
        DeniedRange::Multicast,
        DeniedRange::Unspecified,
    ];
}

/// The range an address falls in, if it is one the relay treats specially.
pub fn classify(ip: IpAddr) -> Option<DeniedRange> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<DeniedRange> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(DeniedRange::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(DeniedRange::Private)
    } else if ip.is_link_local() {
        Some(DeniedRange::LinkLocal)
    } else if ip.is_multicast() {
        Some(DeniedRange::Multicast)
    } else if a == 0 || ip.is_broadcast() || a >= 240 {
        Some(DeniedRange::Unspecified)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<DeniedRange> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some(DeniedRange::Loopback)
    } else if ip.is_unspecified() {
        Some(DeniedRange::Unspecified)
    } else if first & 0xfe00 == 0xfc00 {
        Some(DeniedRange::Private)
    } else if first & 0xffc0 == 0xfe80 {
        Some(DeniedRange::LinkLocal)
    } else if ip.is_multicast() {
        Some(DeniedRange::Multicast)
    } else {
        None
    }
}

/// Which peers the relay may talk to.
#[derive(Debug)]
pub struct PeerPolicy {
    pub allow_loopback: bool,
    pub allow_private: bool,
    /// Exact addresses allowed whatever their range: the self-test's own echo socket.
    exempt: Mutex<HashSet<SocketAddr>>,
}

impl PeerPolicy {
    pub fn new(allow_loopback: bool, allow_private: bool) -> Self {
        Self { allow_loopback, allow_private, exempt: Mutex::new(HashSet::new()) }
    }

    /// `Err` with the range when relaying to or from `peer` is refused.
    pub fn check(&self, peer: SocketAddr) -> Result<(), DeniedRange> {
        let Some(range) = classify(peer.ip()) else { return Ok(()) };
        let allowed = match range {
            DeniedRange::Loopback => self.allow_loopback,
            DeniedRange::Private | DeniedRange::LinkLocal => self.allow_private,
            DeniedRange::Multicast | DeniedRange::Unspecified => false,
        };
        if allowed || self.exempt.lock().expect("exempt set lock").contains(&peer) {
            return Ok(());
        }
        Err(range)
    }

    /// Allows `peer` until the returned guard is dropped.
    pub fn exempt(self: &Arc<Self>, peer: SocketAddr) -> Exemption {
        self.exempt.lock().expect("exempt set lock").insert(peer);
        Exemption { policy: Arc::clone(self), peer }
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

    #[test]
    fn internal_ranges_are_refused_and_public_ones_pass() {
        let policy = PeerPolicy::new(false, false);
        for (peer, range) in [
            ("127.0.0.1:9", DeniedRange::Loopback),
            ("[::1]:9", DeniedRange::Loopback),
            ("[::ffff:127.0.0.1]:9", DeniedRange::Loopback),
            ("10.1.2.3:9", DeniedRange::Private),
            ("172.16.0.1:9", DeniedRange::Private),
            ("192.168.1.1:9", DeniedRange::Private),
            ("100.64.0.1:9", DeniedRange::Private),
            ("[fd00::1]:9", DeniedRange::Private),
            ("169.254.169.254:80", DeniedRange::LinkLocal),
            ("[fe80::1]:9", DeniedRange::LinkLocal),
            ("224.0.0.1:9", DeniedRange::Multicast),
            ("[ff02::1]:9", DeniedRange::Multicast),
            ("0.0.0.0:9", DeniedRange::Unspecified),
            ("255.255.255.255:9", DeniedRange::Unspecified),
        ] {
            assert_eq!(policy.check(addr(peer)), Err(range), "{peer} must be refused as {range:?}");
        }
        for peer in ["8.8.8.8:53", "[2001:4860::8888]:53", "100.128.0.1:9"] {
            assert_eq!(policy.check(addr(peer)), Ok(()), "{peer} is a public address");
        }
    }

    #[test]
    fn settings_and_exemptions_open_ranges() {
        let policy = Arc::new(PeerPolicy::new(true, false));
        assert_eq!(policy.check(addr("127.0.0.1:9")), Ok(()), "loopback allowed for tests");
        assert_eq!(policy.check(addr("10.0.0.1:9")), Err(DeniedRange::Private));
        assert_eq!(policy.check(addr("224.0.0.1:9")), Err(DeniedRange::Multicast), "never allowed");
        let guard = policy.exempt(addr("10.0.0.1:9"));
        assert_eq!(policy.check(addr("10.0.0.1:9")), Ok(()), "an exempt address passes");
        assert_eq!(policy.check(addr("10.0.0.1:10")), Err(DeniedRange::Private), "only that port");
        drop(guard);
        assert_eq!(policy.check(addr("10.0.0.1:9")), Err(DeniedRange::Private), "until the guard ends");
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
