//! End-to-end tests: the native client (library and `cromulent` binary) against real
//! servers on loopback, over SQLite and PostgreSQL. Voice tests hold
//! `cromulent_e2e::one_real_time_test` so that only one runs real-time audio at a time.

mod cli_commands;
mod client_gateway;
mod client_rest;
mod client_session;
mod voice_echo;
mod voice_native;
mod voice_participant;
mod voice_removal;
mod voice_sfu;
