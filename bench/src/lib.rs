//! Load generators for Cromulent: they start a release `cromulent-server` as a separate
//! process ([`server`], through the test kit), drive it over its real protocol — REST
//! with the native client `cromulent-client` ([`account`]), the gateway through bare
//! sockets ([`ws`], [`crowd`]) — and print Markdown rows ([`report`]) with latency
//! percentiles from [`stats`] and memory and CPU time read from `/proc`.
//!
//! Scenarios: [`messages`], [`history`], [`logins`] and [`uploads`] (binary `http-bench`); [`idle`]
//! and [`fanout`] (binary `gateway-bench`), the latter compared with the bare
//! tokio-tungstenite broadcast server in [`baseline`] in the same run; [`voice`] (binary
//! `voice-bench`) measures the voice SFU and the mesh. The crate never
//! links the server. Gateway connections are bare sockets rather than the native
//! client's reconnecting `Gateway`: thousands of them must cost the load generator
//! little, and ours must be read the same way as the baseline's.

pub mod account;
pub mod baseline;
pub mod crowd;
pub mod fanout;
pub mod history;
pub mod idle;
pub mod logins;
pub mod messages;
pub mod report;
pub mod search;
pub mod server;
pub mod stats;
pub mod uploads;
pub mod voice;
pub mod ws;
