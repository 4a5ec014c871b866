//! The packet path: one received frame, written to every other participant's track
//! for its sender. Nothing is decoded; the RFC 6464 audio level rides along.

use cromulent_protocol::Id;
use str0m::media::MediaData;

use super::participant::Participant;

/// What one frame cost: listeners written to and payload bytes sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fanout {
    pub listeners: u64,
    pub bytes: u64,
}

/// Writes `data`, received from `from`, to each listener's track for `from`. A listener
/// whose track is not negotiated yet misses the frame; one whose connection refuses the
/// write is returned, to be cut off.
pub fn forward<'a>(
    data: &MediaData,
    from: Id,
    listeners: impl Iterator<Item = &'a mut Participant>,
    broken: &mut Vec<Id>,
) -> Fanout {
    let mut fanout = Fanout::default();
    for listener in listeners {
        let Some(mid) = listener.track_of(from) else { continue };
        let Some(writer) = listener.rtc.writer(mid) else { continue };
        let Some(pt) = writer.match_params(data.params) else { continue };
        let writer = match (data.ext_vals.audio_level, data.ext_vals.voice_activity) {
            (Some(level), activity) => writer.audio_level(level, activity.unwrap_or(false)),
            (None, _) => writer,
        };
        match writer.write(pt, data.network_time, data.time, data.data.clone()) {
            Ok(()) => {
                fanout.listeners += 1;
                fanout.bytes += data.data.len() as u64;
            }
            Err(e) => {
                tracing::debug!(session_id = %listener.who.session_id, error = %e, "SFU write refused");
                broken.push(listener.who.session_id);
            }
        }
    }
    fanout
}
