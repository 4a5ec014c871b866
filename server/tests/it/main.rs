//! Integration tests: real servers on loopback over SQLite and PostgreSQL.

mod harness;

mod api_shape;
mod auth;
mod channels;
mod feature_flags;
mod groups;
mod messages;
mod notifications;
mod read_states;
mod users;
