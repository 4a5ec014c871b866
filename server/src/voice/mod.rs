//! Voice rooms: who is in which voice channel across all nodes, who loses their place
//! when a channel changes, how each room carries its audio (peer to peer in a mesh, or
//! through the server's selective forwarding unit) and the ICE servers clients use to
//! connect.

pub mod ice;
pub mod room_access;
pub mod rooms;
pub mod route;
pub mod sfu;

pub use rooms::VoiceRooms;
