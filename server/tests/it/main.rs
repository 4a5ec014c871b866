//! Integration tests: real servers on loopback over SQLite and PostgreSQL.

mod gateway_client;
mod harness;
mod voice;

mod admin_users;
mod api_shape;
mod auth;
mod channels;
mod cluster;
mod constraints;
mod durability;
mod feature_flags;
mod gateway;
mod gateway_events;
mod gateway_limits;
mod gateway_voice;
mod groups;
mod invites;
mod link_previews;
mod messages;
mod moderation;
mod notification_settings;
mod notifications;
mod read_states;
mod refusals;
mod security;
mod sfu;
mod smtp;
mod turn;
mod users;
mod voice_access;
mod web;
