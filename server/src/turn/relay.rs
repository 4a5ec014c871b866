//! Relay sockets: one per allocation, in the configured port range, each holding a
//! quota slot for as long as it lives. Every packet is checked against the peer policy
//! again (a second line behind the listener's refusals) and counted.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::net::UdpSocket;
use turn::relay::RelayAddressGenerator;
use webrtc_util::Conn;

use super::listener::OwnerSlot;
use super::policy::{RelaySocket, Slot};
use super::Shared;

/// Tries at a random port before giving up on a crowded range.
const PORT_TRIES: usize = 20;

pub struct RelayPorts {
    pub bind: IpAddr,
    pub public_ip: IpAddr,
    /// Inclusive; `min == 0` lets the system choose.
    pub min: u16,
    pub max: u16,
    pub shared: Arc<Shared>,
    /// Filled by this listener's guard for the Allocate being handled.
    pub owner: OwnerSlot,
}

impl RelayPorts {
    async fn bind(&self, requested_port: u16) -> std::io::Result<UdpSocket> {
        if self.min == 0 || requested_port != 0 {
            // A port the crate picked from an earlier probe (EVEN-PORT), or any.
            return UdpSocket::bind(SocketAddr::new(self.bind, requested_port)).await;
        }
        let span = u32::from(self.max.saturating_sub(self.min)) + 1;
        let mut last = std::io::Error::other("no relay port tried");
        for _ in 0..PORT_TRIES {
            let offset = u16::try_from(rand::random::<u32>() % span).expect("span fits in u16");
            match UdpSocket::bind(SocketAddr::new(self.bind, self.min + offset)).await {
                Ok(socket) => return Ok(socket),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

#[async_trait]
impl RelayAddressGenerator for RelayPorts {
    fn validate(&self) -> Result<(), turn::Error> {
        if self.min != 0 && self.max < self.min {
            return Err(turn::Error::ErrMaxPortLessThanMinPort);
        }
        Ok(())
    }

    async fn allocate_conn(
        &self,
        use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        if use_ipv4 != self.bind.is_ipv4() {
            return Err(turn::Error::Other("requested address family is not served".into()));
        }
        // The listener checked the quota and named the owner for this very request. The
        // crate may call here more than once per request (probing for an even port).
        let owner = self.owner.lock().expect("owner lock").clone();
        let owner = owner.ok_or_else(|| turn::Error::Other("allocation without a checked owner".into()))?;
        let slot = self.shared.quotas.take(&owner).map_err(|_| turn::Error::Other("quota reached".into()))?;
        let socket =
            self.bind(requested_port).await.map_err(|e| turn::Error::Other(format!("relay socket: {e}")))?;
        let port = socket.local_addr().map_err(|e| turn::Error::Other(e.to_string()))?.port();
        tracing::debug!(%owner, port, "relay allocated");
        // Peers on this relay may now send here, relay to relay.
        let live = self.shared.policy.relay_socket(port);
        let conn =
            RelayConn { socket, live: Mutex::new(Some((slot, live))), shared: Arc::clone(&self.shared) };
        Ok((Arc::new(conn), SocketAddr::new(self.public_ip, port)))
    }
}

struct RelayConn {
    socket: UdpSocket,
    /// The quota slot, and the mark that lets other allocations send here.
    live: Mutex<Option<(Slot, RelaySocket)>>,
    shared: Arc<Shared>,
}

#[async_trait]
impl Conn for RelayConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            if self.shared.policy.check(from).is_ok() {
                self.shared.metrics.relayed_from_peer(n);
                return Ok((n, from));
            }
            self.shared.metrics.dropped();
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if self.shared.policy.check(target).is_err() {
            self.shared.metrics.dropped();
            return Ok(buf.len());
        }
        let n = self.socket.send_to(buf, target).await?;
        self.shared.metrics.relayed_to_peer(n);
        Ok(n)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        // The allocation is over: its quota slot is free even if the socket lingers, and
        // nothing is relayed to it any more.
        self.live.lock().expect("slot lock").take();
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}
