//! Integration tests: real servers on loopback over SQLite and PostgreSQL.

mod harness;

mod auth;
mod api_shape;
