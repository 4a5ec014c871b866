//! The playback pipeline as the remote tracks reach it (through [`super::paths`]), with
//! per-user volumes that outlive a peer's reconnects and a room's change of transport.

use std::collections::HashMap;
use std::sync::Mutex;

use cromulent_protocol::Id;

use super::audio::{PeerSink, PeerStats, Playback};
use super::engine::lock;

/// The playback pipeline while in a room, and the peers it mixes (keyed by session id).
#[derive(Default)]
pub(super) struct PlaybackSlot {
    pub(super) playback: Mutex<Option<Playback>>,
    /// Session → user, for per-user volumes.
    users: Mutex<HashMap<Id, Id>>,
    volumes: Mutex<HashMap<Id, f32>>,
}

impl PlaybackSlot {
    pub(super) fn remove(&self, session_id: Id) {
        lock(&self.users).remove(&session_id);
        if let Some(playback) = lock(&self.playback).as_ref() {
            playback.remove_peer(&session_id.to_string());
        }
    }

    /// `session_id` belongs to `user_id` (from `peer_joined`): their volume applies to it,
    /// also when its track arrived before the server named its user.
    pub(super) fn name(&self, session_id: Id, user_id: Id) {
        lock(&self.users).insert(session_id, user_id);
        let volume = lock(&self.volumes).get(&user_id).copied();
        if let (Some(volume), Some(playback)) = (volume, lock(&self.playback).as_ref()) {
            playback.set_volume(&session_id.to_string(), volume);
        }
    }

    pub(super) fn set_volume(&self, user_id: Id, volume: f32) {
        lock(&self.volumes).insert(user_id, volume);
        let users = lock(&self.users).clone();
        if let Some(playback) = lock(&self.playback).as_ref() {
            for (session, _) in users.iter().filter(|(_, user)| **user == user_id) {
                playback.set_volume(&session.to_string(), volume);
            }
        }
    }

    pub(super) fn peer_audio(&self, session_id: Id) -> (bool, Option<PeerStats>) {
        let playback = lock(&self.playback);
        let Some(playback) = playback.as_ref() else { return (false, None) };
        let key = session_id.to_string();
        (playback.speaking(&key), playback.peer_stats(&key))
    }
}

impl PlaybackSlot {
    /// A fresh jitter buffer for `session_id` (replacing any it had), at the volume its user
    /// was given; `None` once we left.
    pub(super) fn sink(&self, session_id: Id, user_id: Id) -> Option<PeerSink> {
        lock(&self.users).insert(session_id, user_id);
        let volume = lock(&self.volumes).get(&user_id).copied();
        let key = session_id.to_string();
        lock(&self.playback).as_ref().map(|playback| {
            let sink = playback.add_peer(&key);
            if let Some(volume) = volume {
                playback.set_volume(&key, volume);
            }
            sink
        })
    }
}
