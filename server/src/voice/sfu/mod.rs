//! The selective forwarding unit: for rooms too large for a mesh, each participant holds
//! one WebRTC connection with the server, sends its Opus stream once and receives every
//! other participant's stream on it. The server forwards packets and never decodes them.
//!
//! One task owns the UDP socket and every participant's sans-IO [`str0m::Rtc`]
//! ([`media_loop`]); the gateway reaches it through the cheap [`Sfu`] handle, and it
//! answers participants with gateway events published on the bus. Signaling for a room
//! hosted on another node crosses the bus as [`SfuSignal`] and is handed to the room's
//! node's SFU there.
//!
//! The packet path is [`forward::forward`]: one function from a received frame to the
//! writes on every listener's connection, kept small so later waves (end-to-end
//! encrypted frames, throughput work) extend one place.

mod caps;
mod forward;
mod media_loop;
mod metrics;
mod participant;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use cromulent_protocol::event::Event;
use cromulent_protocol::Id;
use serde::{Deserialize, Serialize};
use str0m::change::{SdpAnswer, SdpOffer};
use tokio::sync::mpsc;

use crate::bus::Bus;
use crate::config::VoiceConfig;
pub use caps::Caps;
pub use metrics::SfuMetrics;

/// The user id the SFU signs its signaling with: no user has it.
pub const SFU_USER_ID: Id = Id(0);

/// Where a room in `sfu` mode sends its media: the SFU's peer id clients negotiate
/// with, and the node whose SFU serves the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SfuPlace {
    pub sfu_session_id: Id,
    pub node: u16,
}

/// One signaling message from a participant for its room's SFU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SfuSignal {
    pub channel_id: Id,
    pub sfu_session_id: Id,
    pub session_id: Id,
    pub user_id: Id,
    pub signal: Signal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Offer {
        sdp: String,
    },
    Answer {
        sdp: String,
    },
    /// The browser's `RTCIceCandidateInit` JSON, as the client trickles it.
    Candidate {
        candidate: serde_json::Value,
    },
}

impl Signal {
    /// The event that carries this signal to a peer in a mesh.
    pub fn into_event(self, from: Id, from_user_id: Id) -> Event {
        match self {
            Signal::Offer { sdp } => Event::SdpOffer { from, from_user_id, sdp },
            Signal::Answer { sdp } => Event::SdpAnswer { from, from_user_id, sdp },
            Signal::Candidate { candidate } => Event::IceCandidate { from, from_user_id, candidate },
        }
    }

    /// Refuses a description the SFU could not read, while the sender can still be told
    /// (the SFU itself answers only through events).
    pub fn check(&self) -> Result<(), String> {
        let parsed = match self {
            Signal::Offer { sdp } => SdpOffer::from_sdp_string(sdp).map(drop),
            Signal::Answer { sdp } => SdpAnswer::from_sdp_string(sdp).map(drop),
            Signal::Candidate { .. } => Ok(()),
        };
        parsed.map_err(|e| format!("not a session description the SFU can read: {e}"))
    }
}

enum Command {
    Signal(SfuSignal),
    /// The session left its room or lost the right to be there: cut it off now.
    Remove {
        session_id: Id,
    },
    /// The room moved back to a mesh, or to another SFU peer: connections made with
    /// `sfu_session_id` end once clients have had time to move.
    Retire {
        channel_id: Id,
        sfu_session_id: Id,
    },
}

/// Handle to the running SFU; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sfu {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    advertised: SocketAddr,
    metrics: Arc<SfuMetrics>,
}

impl Sfu {
    /// Binds the SFU's UDP port and starts its loop. `public_ip` is the address put in
    /// its candidates (TURN_PUBLIC_IP's).
    pub async fn start(config: &VoiceConfig, public_ip: IpAddr, bus: Bus) -> anyhow::Result<Self> {
        let bind = SocketAddr::new(config.voice_sfu_bind, config.voice_sfu_port);
        let socket = tokio::net::UdpSocket::bind(bind)
            .await
            .with_context(|| format!("binding the voice SFU to udp {bind} (set VOICE_SFU_PORT)"))?;
        let local_addr = socket.local_addr().context("SFU socket address")?;
        let advertised = SocketAddr::new(public_ip, local_addr.port());
        let metrics = Arc::new(SfuMetrics::default());
        let (commands, inbox) = mpsc::unbounded_channel();
        let caps = Caps::new(config.voice_sfu_max_packets_per_sec, config.voice_sfu_max_kbps);
        media_loop::spawn(socket, advertised, caps, inbox, bus, Arc::clone(&metrics));
        tracing::info!(%local_addr, %advertised, "voice SFU listening");
        Ok(Self { commands, local_addr, advertised, metrics })
    }

    /// Hands a participant's signaling to the SFU (this node hosts the room).
    pub fn signal(&self, signal: SfuSignal) {
        self.send(Command::Signal(signal));
    }

    /// Ends a session's connection at once and stops forwarding to and from it.
    pub fn remove(&self, session_id: Id) {
        self.send(Command::Remove { session_id });
    }

    /// The room no longer uses this SFU peer.
    pub fn retire(&self, channel_id: Id, sfu_session_id: Id) {
        self.send(Command::Retire { channel_id, sfu_session_id });
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The address in the SFU's candidates: where participants (or the TURN relay on
    /// behalf of relay-only ones) send media.
    pub fn advertised(&self) -> SocketAddr {
        self.advertised
    }

    pub fn render_metrics(&self) -> String {
        self.metrics.render()
    }

    fn send(&self, command: Command) {
        if self.commands.send(command).is_err() {
            tracing::error!("the voice SFU loop has stopped");
        }
    }
}
