//! The ICE servers handed to clients joining a voice room.

use cromulent_protocol::voice::IceServer;

/// STUN servers from the settings. Peers on one network connect through host
/// candidates alone; across NATs they need these (and TURN, which comes with the
/// built-in relay).
pub fn ice_servers(stun_urls: &[String]) -> Vec<IceServer> {
    if stun_urls.is_empty() {
        return Vec::new();
    }
    vec![IceServer { urls: stun_urls.to_vec(), username: None, credential: None }]
}
