//! The server's own addresses, so the relay cannot be used to reach the host it runs on
//! (its services on the public or LAN address are often meant for the machine alone):
//! every interface address, reread now and then, TURN_BIND, TURN_PUBLIC_IP, the HTTP
//! listener's address, the ports the server listens on, and the relay sockets that peers
//! on this same relay legitimately send to.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};

/// Addresses and ports of this host as the relay sees them.
#[derive(Debug, Default)]
pub struct OwnHost {
    /// TURN_BIND, TURN_PUBLIC_IP and the HTTP listener's address, when specific.
    configured: HashSet<IpAddr>,
    /// The addresses of the machine's interfaces, last time they were read.
    interfaces: RwLock<HashSet<IpAddr>>,
    /// Ports the server listens on: TURN over UDP, TCP and TLS, HTTP.
    listeners: RwLock<HashSet<u16>>,
    /// Where the relay sockets are reachable; `None` when they are bound to every
    /// address (TURN_BIND 0.0.0.0 or ::).
    relay_ips: Option<HashSet<IpAddr>>,
    /// Live relay sockets by port (a count, as two families may share a port).
    relays: Mutex<HashMap<u16, usize>>,
}

impl OwnHost {
    /// The host with `configured` addresses (unspecified ones are left out: they stand
    /// for every interface, which are read separately) and relay sockets bound to
    /// `relay_bind`, advertised as `relay_public`.
    pub fn new(
        configured: impl IntoIterator<Item = IpAddr>,
        relay_bind: IpAddr,
        relay_public: IpAddr,
    ) -> Self {
        let configured = configured.into_iter().filter(|ip| !ip.is_unspecified()).map(canonical).collect();
        let relay_ips = (!relay_bind.is_unspecified())
            .then(|| [relay_bind, relay_public].into_iter().map(canonical).collect());
        Self { configured, relay_ips, ..Self::default() }
    }

    /// Rereads the interface addresses (addresses come and go: DHCP, IPv6 temporary
    /// addresses). On failure the last list stays.
    pub fn refresh_interfaces(&self) {
        match webrtc_util::ifaces::ifaces() {
            Ok(list) => {
                let found: HashSet<IpAddr> =
                    list.iter().filter_map(|i| i.addr).map(|a| canonical(a.ip())).collect();
                *self.interfaces.write().expect("interfaces lock") = found;
            }
            Err(e) => tracing::warn!(error = %e, "could not list this host's interface addresses"),
        }
    }

    /// Counts `port` as one the server listens on.
    pub fn add_listener(&self, port: u16) {
        if port != 0 {
            self.listeners.write().expect("listeners lock").insert(port);
        }
    }

    /// Whether `ip` is an address of this host (loopback is judged by its range).
    pub fn owns(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.configured.contains(&ip) || self.interfaces.read().expect("interfaces lock").contains(&ip)
    }

    pub fn is_listener(&self, port: u16) -> bool {
        self.listeners.read().expect("listeners lock").contains(&port)
    }

    /// Whether `ip:port` (an address of this host) is one of the relay's live sockets:
    /// two clients of this relay talking to each other, relay to relay.
    pub fn is_relay(&self, ip: IpAddr, port: u16) -> bool {
        let reachable = self.relay_ips.as_ref().is_none_or(|ips| ips.contains(&canonical(ip)));
        reachable && self.relays.lock().expect("relays lock").contains_key(&port)
    }

    pub(super) fn relay_opened(&self, port: u16) {
        *self.relays.lock().expect("relays lock").entry(port).or_insert(0) += 1;
    }

    pub(super) fn relay_closed(&self, port: u16) {
        let mut relays = self.relays.lock().expect("relays lock");
        if let Some(count) = relays.get_mut(&port) {
            *count -= 1;
            if *count == 0 {
                relays.remove(&port);
            }
        }
    }

    /// The interface addresses as last read, for tests and diagnostics.
    pub fn interface_addresses(&self) -> Vec<IpAddr> {
        self.interfaces.read().expect("interfaces lock").iter().copied().collect()
    }
}

/// IPv4-mapped IPv6 addresses compare as the IPv4 address they are.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}
