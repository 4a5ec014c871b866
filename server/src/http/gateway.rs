//! `GET /api/gateway`: the WebSocket upgrade into the real-time gateway, refused in the
//! API's error shape for a foreign origin or a full node or address.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use cromulent_protocol::ErrorCode;

use super::error::HttpError;
use super::extract::ClientIp;
use crate::gateway::Turnaway;
use crate::state::AppState;

/// The `Retry-After` given with a per-address refusal.
const ADDRESS_RETRY_AFTER_SECS: u64 = 5;

/// Origins of the desktop app's webview, allowed besides our own.
const DESKTOP_ORIGINS: [&str; 3] = ["tauri://localhost", "http://tauri.localhost", "https://tauri.localhost"];

pub fn router() -> Router<AppState> {
    Router::new().route("/api/gateway", get(upgrade))
}

async fn upgrade(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // Browsers attach cookies to cross-site WebSocket handshakes: without this check any
    // page could open a gateway session as the visitor.
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let desktop = origin.is_some_and(|o| DESKTOP_ORIGINS.contains(&o));
    if !desktop && !state.cookies.is_same_origin(&headers) {
        return HttpError::new(StatusCode::FORBIDDEN, ErrorCode::CsrfRejected, "origin not allowed")
            .into_response();
    }
    let slot = match state.gateway.admit(client_ip.as_deref()) {
        Ok(slot) => slot,
        Err(turnaway) => return refused(turnaway),
    };
    let cookie = state.cookies.read(&headers);
    let max_frame = state.gateway.config.max_socket_frame_bytes();
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(256 * 1024)
        .max_message_size(max_frame)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| slot.serve(socket, state, cookie))
}

fn refused(turnaway: Turnaway) -> Response {
    match turnaway {
        Turnaway::Address(error) => {
            let mut refusal =
                HttpError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, error.to_string());
            // Sockets do not expire on a clock, so this is a hint: long enough that a
            // client honouring it does not hammer the server, short enough to notice a
            // freed place.
            refusal.body.retry_after_secs = Some(ADDRESS_RETRY_AFTER_SECS);
            refusal.into_response()
        }
        Turnaway::Node => {
            HttpError::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::Unavailable, turnaway.to_string())
                .into_response()
        }
    }
}
