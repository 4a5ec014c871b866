//! What crosses the gateway between two peer connections, in the browser's shapes: SDP as a
//! plain string and ICE candidates as `RTCIceCandidateInit` JSON
//! (`{candidate, sdpMid, sdpMLineIndex, usernameFragment}`), so browser and native peers read
//! each other's messages without knowing which is which.

use serde::{Deserialize, Serialize};
use webrtc::peer_connection::RTCIceCandidateInit;

/// A trickled candidate exactly as a browser's `RTCIceCandidate.toJSON()` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateJson {
    pub candidate: String,
    #[serde(default)]
    pub sdp_mid: Option<String>,
    #[serde(default, rename = "sdpMLineIndex")]
    pub sdp_m_line_index: Option<u16>,
    #[serde(default)]
    pub username_fragment: Option<String>,
}

impl CandidateJson {
    /// A local candidate from webrtc-rs, labelled with our media section and ICE username
    /// fragment (webrtc-rs itself writes an empty `sdpMid`, which Chromium refuses).
    pub fn from_local(init: RTCIceCandidateInit, local_sdp: Option<&str>) -> Self {
        let (mid, ufrag) = local_sdp.map(first_mid_and_ufrag).unwrap_or_default();
        Self { candidate: init.candidate, sdp_mid: mid, sdp_m_line_index: Some(0), username_fragment: ufrag }
    }

    /// The JSON value the gateway relays.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A relayed candidate; `None` for end-of-candidates markers and malformed input, which a
    /// peer can ignore (the browser does the same with `addIceCandidate(...).catch()`).
    pub fn from_value(value: &serde_json::Value) -> Option<Self> {
        let parsed: Self = serde_json::from_value(value.clone()).ok()?;
        (!parsed.candidate.trim().is_empty()).then_some(parsed)
    }

    pub fn into_init(self) -> RTCIceCandidateInit {
        RTCIceCandidateInit {
            candidate: self.candidate,
            sdp_mid: self.sdp_mid,
            sdp_mline_index: self.sdp_m_line_index,
            username_fragment: self.username_fragment,
            url: None,
        }
    }
}

/// The first media section's `a=mid` and the ICE username fragment of a description.
fn first_mid_and_ufrag(sdp: &str) -> (Option<String>, Option<String>) {
    let attribute =
        |name: &str| sdp.lines().find_map(|line| line.trim().strip_prefix(name).map(|v| v.trim().to_owned()));
    (attribute("a=mid:"), attribute("a=ice-ufrag:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_json_round_trips() {
        let value = serde_json::json!({
            "candidate": "candidate:1 1 udp 2122260223 abc.local 54321 typ host",
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "u1"
        });
        let parsed = CandidateJson::from_value(&value).expect("a candidate");
        assert_eq!(parsed.sdp_mid.as_deref(), Some("0"));
        assert_eq!(parsed.to_value(), value);
    }

    #[test]
    fn end_of_candidates_is_ignored() {
        let value = serde_json::json!({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0});
        assert_eq!(CandidateJson::from_value(&value), None);
    }

    #[test]
    fn local_candidates_carry_mid_and_ufrag() {
        let sdp = "v=0\r\na=ice-ufrag:abcd\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        let init = RTCIceCandidateInit { candidate: "candidate:x".into(), ..Default::default() };
        let json = CandidateJson::from_local(init, Some(sdp));
        assert_eq!(json.sdp_mid.as_deref(), Some("0"));
        assert_eq!(json.username_fragment.as_deref(), Some("abcd"));
    }
}
