//! Voice rooms: who is in which voice channel across all nodes, who loses their place
//! when a channel changes, and the ICE servers clients use to connect. Media never
//! passes through here; peers negotiate through gateway signaling and send audio to
//! each other.

pub mod ice;
pub mod room_access;
pub mod rooms;

pub use rooms::VoiceRooms;
