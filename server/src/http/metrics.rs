//! `/metrics`: the server's counters in Prometheus' text format, for scrapers on this
//! machine or holding `METRICS_TOKEN`; they name relay ports and load, which are no
//! one else's business.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::error::{HttpError, HttpResult};
use super::extract::ClientIp;
use crate::auth::secret;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(get_metrics))
}

async fn get_metrics(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> HttpResult<impl IntoResponse> {
    if !may_scrape(&state, ip.as_deref(), &headers) {
        return Err(HttpError::forbidden("metrics are served to loopback or with METRICS_TOKEN"));
    }
    let mut body = state.turn.render_metrics();
    body.push_str(&state.gateway.hub.sfu().render_metrics());
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body))
}

fn may_scrape(state: &AppState, ip: Option<&str>, headers: &HeaderMap) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if let (Some(expected), Some(presented)) = (state.config.metrics_token.as_deref(), presented) {
        // Compared as digests: how long a comparison takes then tells nothing of the token.
        return secret::digest(expected) == secret::digest(presented);
    }
    is_loopback(ip)
}

/// True for a client on this machine (the address after trusted proxies).
pub(super) fn is_loopback(ip: Option<&str>) -> bool {
    ip.and_then(|ip| ip.parse::<std::net::IpAddr>().ok()).is_some_and(|ip| ip.is_loopback())
}
