//! Per-address and per-user caps on gateway connections, held as slots that give their
//! place back when dropped.
//!
//! The global cap (`GATEWAY_MAX_CONNECTIONS`) protects the node; these keep one address
//! or one account from taking all of it. An address slot is claimed at the upgrade, so
//! sockets that never identify count too. A user slot is claimed by identify and resume
//! and counts sessions, not sockets: a resume that takes a session over from a socket
//! the server has not yet seen die holds a second slot on the same session, which does
//! not count twice.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use cromulent_protocol::Id;

/// How many connections one address, and how many sessions one user, may hold open.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub per_user: usize,
    pub per_address: usize,
}

/// Why a slot was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// The address has as many sockets open as allowed. Retryable once one closes.
    #[error("too many gateway connections from this address")]
    TooManyFromAddress,
    /// The user has as many sessions open as allowed. Retryable once one closes.
    #[error("too many gateway sessions for this user")]
    TooManySessions,
}

#[derive(Debug, Default)]
struct Counts {
    /// Open sockets per address key (see [`address_key`]).
    by_address: HashMap<IpAddr, usize>,
    /// Per user, each session with a socket open and how many sockets hold it.
    by_user: HashMap<Id, HashMap<Id, usize>>,
}

#[derive(Debug)]
pub struct ConnectionLimits {
    caps: Caps,
    counts: Mutex<Counts>,
}

impl ConnectionLimits {
    pub fn new(caps: Caps) -> Arc<Self> {
        Arc::new(Self { caps, counts: Mutex::new(Counts::default()) })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // Every section below only adds to or takes from a map; none can panic halfway.
        self.counts.lock().expect("connection counts lock is never poisoned")
    }

    /// Claims a socket for `address`.
    pub fn claim_address(self: &Arc<Self>, address: IpAddr) -> Result<AddressSlot, LimitError> {
        let key = address_key(address);
        let mut counts = self.lock();
        let open = counts.by_address.entry(key).or_default();
        if *open >= self.caps.per_address {
            if *open == 0 {
                // A cap of 0 refuses everyone; leave no empty entry behind.
                counts.by_address.remove(&key);
            }
            return Err(LimitError::TooManyFromAddress);
        }
        *open += 1;
        Ok(AddressSlot { limits: Arc::clone(self), key })
    }

    /// Claims a place for `session` of `user`. A session that already holds a place
    /// (its old socket is still open) always gets another without counting again.
    pub fn claim_session(self: &Arc<Self>, user: Id, session: Id) -> Result<SessionSlot, LimitError> {
        let mut counts = self.lock();
        let sessions = counts.by_user.entry(user).or_default();
        if !sessions.contains_key(&session) && sessions.len() >= self.caps.per_user {
            if sessions.is_empty() {
                counts.by_user.remove(&user);
            }
            return Err(LimitError::TooManySessions);
        }
        *sessions.entry(session).or_default() += 1;
        Ok(SessionSlot { limits: Arc::clone(self), user, session })
    }

    /// Sessions of `user` with a socket open on this node.
    pub fn sessions_of(&self, user: Id) -> usize {
        self.lock().by_user.get(&user).map_or(0, HashMap::len)
    }

    /// Sockets open from `address` (or its IPv6 /64) on this node.
    pub fn connections_from(&self, address: IpAddr) -> usize {
        self.lock().by_address.get(&address_key(address)).copied().unwrap_or(0)
    }
}

/// The key an address is counted under. One IPv6 host usually owns a whole /64, so
/// counting single IPv6 addresses would give it 2^64 caps; IPv4-mapped addresses count
/// as the IPv4 address they carry.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// One socket counted against its address until dropped.
#[derive(Debug)]
pub struct AddressSlot {
    limits: Arc<ConnectionLimits>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.limits.lock();
        if let Some(open) = counts.by_address.get_mut(&self.key) {
            *open -= 1;
            if *open == 0 {
                // Addresses come and go; an entry per address ever seen would only grow.
                counts.by_address.remove(&self.key);
            }
        }
    }
}

/// One socket's hold on a session, counted against its user until dropped.
#[derive(Debug)]
pub struct SessionSlot {
    limits: Arc<ConnectionLimits>,
    user: Id,
    session: Id,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut counts = self.limits.lock();
        let Some(sessions) = counts.by_user.get_mut(&self.user) else { return };
        if let Some(holders) = sessions.get_mut(&self.session) {
            *holders -= 1;
            if *holders == 0 {
                sessions.remove(&self.session);
            }
        }
        if sessions.is_empty() {
            counts.by_user.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_user: usize, per_address: usize) -> Arc<ConnectionLimits> {
        ConnectionLimits::new(Caps { per_user, per_address })
    }

    #[test]
    fn an_address_gets_its_cap_and_a_closed_socket_gives_its_place_back() {
        let l = limits(10, 2);
        let ip: IpAddr = "192.0.2.7".parse().expect("literal address");
        let a = l.claim_address(ip).expect("first of two");
        let _b = l.claim_address(ip).expect("second of two");
        assert_eq!(l.claim_address(ip).err(), Some(LimitError::TooManyFromAddress), "the cap is 2");
        let other: IpAddr = "192.0.2.8".parse().expect("literal address");
        assert!(l.claim_address(other).is_ok(), "another address has its own count");
        drop(a);
        assert!(l.claim_address(ip).is_ok(), "the dropped slot freed a place");
    }

    #[test]
    fn an_ipv6_64_counts_as_one_address_and_mapped_ipv4_as_ipv4() {
        let l = limits(10, 1);
        let one: IpAddr = "2001:db8:1:2::1".parse().expect("literal address");
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("literal address");
        let _held = l.claim_address(one).expect("first");
        assert!(l.claim_address(same_64).is_err(), "a host rotating within its /64 is one address");
        let v4: IpAddr = "198.51.100.1".parse().expect("literal address");
        let mapped: IpAddr = "::ffff:198.51.100.1".parse().expect("literal address");
        let _v4 = l.claim_address(v4).expect("first from the IPv4 address");
        assert!(l.claim_address(mapped).is_err(), "the mapped form is the same client");
    }

    #[test]
    fn sessions_count_once_however_many_sockets_hold_them() {
        let l = limits(2, 10);
        let (user, s1, s2, s3) = (Id(1), Id(11), Id(12), Id(13));
        let first = l.claim_session(user, s1).expect("first session");
        let resumed = l.claim_session(user, s1).expect("a resume of a held session always fits");
        let _second = l.claim_session(user, s2).expect("second session");
        assert_eq!(l.sessions_of(user), 2, "two sessions, although three sockets");
        assert_eq!(l.claim_session(user, s3).err(), Some(LimitError::TooManySessions), "cap is 2");
        assert!(l.claim_session(Id(2), s3).is_ok(), "another user has their own count");
        drop(first);
        assert!(l.claim_session(user, s3).is_err(), "s1 is still held by the resumed socket");
        drop(resumed);
        assert_eq!(l.sessions_of(user), 1, "s1 is released with its last socket");
        assert!(l.claim_session(user, s3).is_ok(), "and its place goes to a new session");
    }

    #[test]
    fn released_entries_leave_nothing_behind() {
        let l = limits(0, 0);
        let ip: IpAddr = "192.0.2.1".parse().expect("literal address");
        assert!(l.claim_address(ip).is_err() && l.claim_session(Id(1), Id(2)).is_err(), "caps of 0");
        let l2 = limits(1, 1);
        drop(l2.claim_address(ip).expect("fits"));
        drop(l2.claim_session(Id(1), Id(2)).expect("fits"));
        let counts = l.lock();
        let counts2 = l2.lock();
        assert!(
            counts.by_address.is_empty() && counts.by_user.is_empty(),
            "a refusal adds no entry, so refused floods cannot grow the maps"
        );
        assert!(
            counts2.by_address.is_empty() && counts2.by_user.is_empty(),
            "the last release removes the entry"
        );
    }
}
