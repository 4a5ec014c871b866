//! Voice benchmarks (issue 13), for the `voice-bench` binary: what the SFU forwards per
//! second of CPU ([`load`]), the delay it adds over a direct path ([`latency`]), and
//! what a client pays in a mesh versus through the SFU, to place the mesh/SFU threshold
//! ([`threshold`]).
//!
//! [`load`] and [`latency`] use the test kit's str0m participants
//! ([`cromulent_testkit::sfu_peer`]), signaling over bare gateway sockets ([`link`]):
//! dozens of them cost the load generator little and stamp every frame with its send
//! time. [`threshold`] runs the native client's voice engine, because a client's own
//! cost is what it measures. [`room`] holds what they share.

pub mod latency;
pub mod link;
pub mod load;
pub mod room;
pub mod threshold;
