//! How the mesh binds its sockets and how patient ICE is.

use std::time::Duration;

/// How the mesh binds its sockets.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// Local UDP addresses; a wildcard means every non-loopback interface.
    pub udp_addrs: Vec<String>,
    /// Offer loopback host candidates too (for tests on a machine with no other network).
    pub include_loopback: bool,
    /// ICE's patience; `None` keeps webrtc-rs's defaults.
    pub ice_timeouts: Option<IceTimeouts>,
}

/// How soon a silent connection counts as disconnected, then failed (which makes the
/// offerer restart ICE), and how often an idle one is kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceTimeouts {
    pub disconnected: Duration,
    pub failed: Duration,
    pub keepalive: Duration,
}

impl Default for MeshConfig {
    fn default() -> Self {
        Self { udp_addrs: vec!["0.0.0.0:0".to_owned()], include_loopback: false, ice_timeouts: None }
    }
}

impl MeshConfig {
    /// Loopback only: both ends on this machine, nothing leaves it.
    pub fn loopback() -> Self {
        Self { udp_addrs: vec!["127.0.0.1:0".to_owned()], include_loopback: true, ice_timeouts: None }
    }
}
