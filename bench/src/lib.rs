//! Load generators for Cromulent: they start a release `cromulent-server` as a separate
//! process ([`server`]), drive it over its real protocol — REST through [`api`], the
//! gateway through [`ws`] — and print Markdown rows ([`report`]) with latency
//! percentiles from [`stats`] and memory and CPU time read from `/proc`.
//!
//! Scenarios: [`messages`], [`history`] and [`logins`] (binary `http-bench`); [`idle`]
//! and [`fanout`] (binary `gateway-bench`), the latter compared with the bare
//! tokio-tungstenite broadcast server in [`baseline`] in the same run. The crate never
//! links the server: it only speaks the wire types of `cromulent-protocol`.

pub mod api;
pub mod baseline;
pub mod crowd;
pub mod fanout;
pub mod history;
pub mod idle;
pub mod logins;
pub mod messages;
pub mod report;
pub mod server;
pub mod stats;
pub mod ws;
