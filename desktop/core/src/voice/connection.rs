//! How the engine builds one WebRTC peer connection, for a mesh peer and the SFU alike:
//! its sockets and ICE patience ([`ConnectionConfig`]), the ICE servers and transport
//! policy the server handed out in `voice_joined` ([`IceSetup`]), and what it speaks: Opus
//! with the RFC 6464 audio-level header extension, as browsers offer it.

use std::sync::Arc;
use std::time::Duration;

use cromulent_protocol::voice::{IceServer, IceTransportPolicy};
use rtc::interceptor::Registry;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use webrtc::peer_connection::{
    register_default_interceptors, MediaEngine, PeerConnection, PeerConnectionBuilder,
    PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceServer, RTCIceTransportPolicy,
    SettingEngineBuilder,
};

/// The RFC 6464 client-to-mixer audio level, which lets an SFU see who speaks without
/// decoding; browsers offer it by default.
pub const AUDIO_LEVEL_URI: &str = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";

/// The payload type we offer for Opus, as browsers do.
const OPUS_PAYLOAD_TYPE: u8 = 111;

/// How the engine's peer connections (each mesh peer's, and the one to the SFU) bind their
/// sockets and how patient ICE is. [`crate::voice::mesh::MeshConfig`] is the same type,
/// under the name it had before the SFU.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Local UDP addresses; a wildcard means every non-loopback interface.
    pub udp_addrs: Vec<String>,
    /// Offer loopback host candidates too (for tests on a machine with no other network).
    pub include_loopback: bool,
    /// ICE's patience; `None` keeps webrtc-rs's defaults.
    pub ice_timeouts: Option<IceTimeouts>,
}

/// How soon a silent connection counts as disconnected, then failed (which makes the
/// side that drives it restart ICE), and how often an idle one is kept alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceTimeouts {
    pub disconnected: Duration,
    pub failed: Duration,
    pub keepalive: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self { udp_addrs: vec!["0.0.0.0:0".to_owned()], include_loopback: false, ice_timeouts: None }
    }
}

impl ConnectionConfig {
    /// Loopback only: both ends on this machine, nothing leaves it.
    pub fn loopback() -> Self {
        Self { udp_addrs: vec!["127.0.0.1:0".to_owned()], include_loopback: true, ice_timeouts: None }
    }
}

/// The ICE servers and transport policy of `voice_joined`, as webrtc-rs takes them.
#[derive(Debug, Clone)]
pub struct IceSetup {
    pub servers: Vec<RTCIceServer>,
    pub policy: RTCIceTransportPolicy,
}

impl Default for IceSetup {
    fn default() -> Self {
        Self { servers: Vec::new(), policy: RTCIceTransportPolicy::All }
    }
}

impl IceSetup {
    pub fn new(servers: &[IceServer], policy: IceTransportPolicy) -> Self {
        let servers = servers
            .iter()
            .map(|server| RTCIceServer {
                urls: server.urls.clone(),
                username: server.username.clone().unwrap_or_default(),
                credential: server.credential.clone().unwrap_or_default(),
            })
            .collect();
        // `relay` keeps our address from everyone: only TURN candidates are gathered, and
        // the SFU is then reached through the server's own relay.
        let policy = match policy {
            IceTransportPolicy::All => RTCIceTransportPolicy::All,
            IceTransportPolicy::Relay => RTCIceTransportPolicy::Relay,
        };
        Self { servers, policy }
    }
}

/// The codec every connection speaks: Opus at 48 kHz, stereo-signalled (RFC 7587), with
/// the parameters browsers put in their offers.
pub fn opus_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: rtc::peer_connection::configuration::media_engine::MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// Opus and the audio-level extension, and nothing else.
fn media_engine() -> Result<MediaEngine, webrtc::error::Error> {
    let mut media = MediaEngine::default();
    media.register_codec(
        RTCRtpCodecParameters { rtp_codec: opus_codec(), payload_type: OPUS_PAYLOAD_TYPE },
        RtpCodecKind::Audio,
    )?;
    media.register_header_extension(
        RTCRtpHeaderExtensionCapability { uri: AUDIO_LEVEL_URI.to_owned() },
        RtpCodecKind::Audio,
        None,
    )?;
    Ok(media)
}

/// A new peer connection whose callbacks go to `handler`.
pub async fn build(
    config: &ConnectionConfig,
    ice: &IceSetup,
    handler: Arc<dyn PeerConnectionEventHandler>,
) -> Result<Arc<dyn PeerConnection>, webrtc::error::Error> {
    let mut media = media_engine()?;
    let interceptors = register_default_interceptors(Registry::new(), &mut media)?;
    let mut settings = SettingEngineBuilder::new().with_include_loopback_candidate(config.include_loopback);
    if let Some(t) = config.ice_timeouts {
        settings = settings.with_ice_timeouts(Some(t.disconnected), Some(t.failed), Some(t.keepalive));
    }
    let configuration = RTCConfigurationBuilder::new()
        .with_ice_servers(ice.servers.clone())
        .with_ice_transport_policy(ice.policy)
        .build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(configuration)
        .with_media_engine(media)
        .with_setting_engine(settings.build())
        .with_interceptor_registry(interceptors)
        .with_handler(handler)
        .with_udp_addrs(config.udp_addrs.clone())
        .build()
        .await?;
    Ok(Arc::new(pc))
}

/// The negotiated Opus payload type, read from the connection's senders.
pub async fn negotiated_opus_pt(pc: &dyn PeerConnection) -> Option<u8> {
    for sender in pc.get_senders().await {
        let Ok(params) = sender.get_parameters().await else { continue };
        if let Some(codec) = params
            .rtp_parameters
            .codecs
            .iter()
            .find(|c| c.rtp_codec.mime_type.eq_ignore_ascii_case("audio/opus"))
        {
            return Some(codec.payload_type);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_only_reaches_webrtc_as_relay_policy() {
        let servers = [IceServer {
            urls: vec!["turn:127.0.0.1:3478".to_owned()],
            username: Some("u".to_owned()),
            credential: None,
        }];
        let relay = IceSetup::new(&servers, IceTransportPolicy::Relay);
        assert_eq!(relay.policy, RTCIceTransportPolicy::Relay, "relay-only must gather only TURN candidates");
        assert_eq!(relay.servers[0].username, "u");
        assert_eq!(relay.servers[0].credential, "", "a missing credential is empty, as the browser reads it");
        assert_eq!(IceSetup::new(&servers, IceTransportPolicy::All).policy, RTCIceTransportPolicy::All);
    }

    #[tokio::test]
    async fn offers_carry_opus_and_the_audio_level_extension() {
        struct Quiet;
        impl PeerConnectionEventHandler for Quiet {}
        let pc = build(&ConnectionConfig::loopback(), &IceSetup::default(), Arc::new(Quiet))
            .await
            .expect("a loopback connection");
        pc.add_transceiver_from_kind(RtpCodecKind::Audio, None).await.expect("an audio transceiver");
        let offer = pc.create_offer(None).await.expect("an offer");
        assert!(offer.sdp.contains("a=rtpmap:111 opus/48000/2"), "Opus as browsers number it: {}", offer.sdp);
        assert!(offer.sdp.contains("minptime=10;useinbandfec=1"), "FEC is asked for: {}", offer.sdp);
        assert!(
            offer.sdp.lines().any(|l| l.starts_with("a=extmap:") && l.ends_with(AUDIO_LEVEL_URI)),
            "the SFU learns our audio level from RFC 6464: {}",
            offer.sdp
        );
        pc.close().await.expect("close");
    }
}
