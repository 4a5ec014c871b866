//! The scaffolding every test and load generator of the workspace needs around a real
//! server, in one place.
//!
//! A server keeps its data in a [`Storage`]: a [`TempDir`] for its data directory and,
//! on PostgreSQL, a [`PgDatabase`] created on the test server at
//! `CROMULENT_TEST_PG_URL` and dropped afterwards. The server then runs either inside
//! the test's process ([`InProcessServer`], feature `in-process`: the server's own
//! tests and the end-to-end tests, which look at its state) or as the real binary
//! ([`ServerProcess`]: the load generators, which measure that process). Accounts are
//! made over the public API ([`accounts`]); mail can go out through a real SMTP server
//! ([`SmtpSink`]), and attachments into a real S3-compatible one ([`S3Server`]).
//!
//! A voice participant that talks to the server's SFU over real WebRTC is
//! [`sfu_peer::SfuPeer`] (feature `sfu-peer`).
//!
//! A test that needs a private keyring or D-Bus session runs itself again inside one
//! ([`reexec::inside`]).
//!
//! Everything here is for tests: constructors that cannot go on (no PostgreSQL, no
//! scratch space) panic with what to do, unless a caller outside a test needs the error.

pub mod accounts;
#[cfg(feature = "in-process")]
mod in_process;
mod postgres;
mod process;
mod python_server;
pub mod reexec;
mod s3;
#[cfg(feature = "sfu-peer")]
pub mod sfu_peer;
mod smtp;
mod storage;

#[cfg(feature = "in-process")]
pub use in_process::InProcessServer;
pub use postgres::{pg_admin_url, PgDatabase};
pub use process::{ProcessError, ServerLaunch, ServerProcess};
pub use s3::S3Server;
pub use smtp::SmtpSink;
pub use storage::{Database, Storage, TempDir};

/// `<prefix>_<pid>_<random>`: unique across the tests of one run and across runs side by
/// side, and a valid SQL identifier when `prefix` is one.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), rand::random::<u32>())
}
