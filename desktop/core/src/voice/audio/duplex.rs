//! A call's playback and capture started as a pair, so capture knows what playback plays.

use super::backend::{room, RoomMicrophone, RoomSpeaker};
use super::config::{AudioConfig, OutputChoice};
use super::far_end::{far_end, FarEndReader, FarEndWriter};
use super::{AudioError, Capture, CaptureFrames, Playback};

/// What playback hands on: its mix as the far-end reference, and its sound into a
/// simulated room.
#[derive(Default)]
pub(crate) struct PlaybackLink {
    pub(crate) far_end: Option<FarEndWriter>,
    pub(crate) room: Option<RoomSpeaker>,
}

/// What capture takes in from playback.
#[derive(Default)]
pub(crate) struct CaptureLink {
    pub(crate) far_end: Option<FarEndReader>,
    pub(crate) room: Option<RoomMicrophone>,
}

/// Starts playback, then capture, linked: the echo canceller gets what is played, and
/// with [`AudioConfig::echo_sim`] the input hears the output. (Started on their own, the
/// halves have no echo reference and no simulated room.)
pub fn start_duplex(config: &AudioConfig) -> Result<(Playback, Capture, CaptureFrames), AudioError> {
    // Only sound a microphone can hear is a reference: a recording (`Wav`, `Null`) comes
    // back nowhere, and handing it to the canceller would make it take a microphone that
    // sounds like the mix (the others' voices, test tones) for echo and turn it down.
    let heard =
        config.echo_sim.is_some() || matches!(config.output, OutputChoice::Default | OutputChoice::Device(_));
    let (writer, reader) = if heard {
        let (writer, reader) = far_end();
        (Some(writer), Some(reader))
    } else {
        (None, None)
    };
    let (speaker, microphone) = match config.echo_sim {
        Some(sim) => {
            let (speaker, microphone) = room(sim);
            (Some(speaker), Some(microphone))
        }
        None => (None, None),
    };
    let playback = Playback::start_linked(config, PlaybackLink { far_end: writer, room: speaker })?;
    let (capture, frames) = Capture::start_linked(config, CaptureLink { far_end: reader, room: microphone })?;
    Ok((playback, capture, frames))
}
