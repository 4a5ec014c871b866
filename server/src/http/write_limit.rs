//! The per-address budget of writes (`HTTP_WRITES_PER_IP_PER_MINUTE`), taken before any
//! handler runs, so an unauthenticated caller cannot make the server do expensive work
//! (hashing, mail, database writes) faster than the budget allows. The per-user budget
//! is taken where the caller is known (the `Caller` extractor).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::HttpError;
use crate::state::AppState;

pub async fn limit_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if is_write(request.method()) {
        let ip = state.client_ip(request.headers(), request.extensions());
        let key = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
        if let Err(wait) = state.throttles.writes_per_ip.reserve(&key) {
            return HttpError::rate_limited(wait).into_response();
        }
    }
    next.run(request).await
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
