//! The HTTP API under `/api`, health probes, the dev mailbox and the OpenAPI document.
//!
//! Each resource module exposes `router()`; they are merged here with the middleware
//! every route shares (body limit, tracing, security headers) and fallbacks that answer
//! unknown routes and methods in the API's error shape.

pub mod account;
pub mod account_deletion;
pub mod account_export;
pub mod admin_users;
pub mod attachments;
pub mod audit_log;
pub mod auth;
pub mod blocks;
pub mod channels;
pub mod desktop_updates;
pub mod dev_mailbox;
pub mod dms;
pub mod error;
pub mod extract;
pub mod feature_flags;
pub mod gateway;
pub mod groups;
pub mod health;
pub mod invites;
pub mod link_previews;
mod mail_links;
pub mod messages;
pub mod metrics;
pub mod moderation;
pub mod notifications;
pub mod openapi;
pub mod pins;
pub mod reactions;
pub mod read_states;
pub mod search;
pub mod sessions;
pub mod users;
pub mod voice;
pub mod write_limit;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::Router;
use cromulent_protocol::limits::REQUEST_BODY_MAX_BYTES;
use cromulent_protocol::ErrorCode;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use error::HttpError;

/// The API routes with their OpenAPI description, before state is attached.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(auth::router())
        .merge(account::router())
        .merge(account_deletion::router())
        .merge(account_export::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(admin_users::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(attachments::router())
        .merge(reactions::router())
        .merge(pins::router())
        .merge(read_states::router())
        .merge(search::router())
        .merge(groups::router())
        .merge(notifications::router())
        .merge(feature_flags::router())
        .merge(invites::router())
        .merge(voice::router())
        .merge(link_previews::router())
        .merge(moderation::router())
        .merge(audit_log::router())
        .merge(dms::router())
        .merge(blocks::router())
}

/// The whole application: API, gateway, probes, dev mailbox (when on) and the document.
pub fn app(state: AppState) -> Router {
    let (api, document) = api().split_for_parts();
    let mut router = api
        .merge(health::router())
        .merge(desktop_updates::router())
        .merge(metrics::router())
        .merge(openapi::router(document))
        .merge(gateway::router());
    if state.mailer.dev_mailbox().is_some() {
        router = router.merge(dev_mailbox::router());
    }
    router
        // Unknown `/api/*` routes still answer the JSON 404; browser routes get the web client.
        .fallback(fallback)
        .method_not_allowed_fallback(|| async {
            HttpError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorCode::MethodNotAllowed,
                "method not allowed here",
            )
        })
        .layer(middleware::from_fn_with_state(state.clone(), write_limit::limit_writes))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_MAX_BYTES))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(strict_transport_security(&state))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The router's fallback: the web client for browser routes, the API's JSON 404 for the rest.
async fn fallback(State(state): State<AppState>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    match crate::web::serve(&state, &method, &uri, &headers).await {
        Ok(response) => response,
        Err(miss) => HttpError::from(miss).into_response(),
    }
}

/// Over https, browsers are told to never try plain http for a year: a network attacker
/// then cannot strip TLS from a later visit. Plain-http servers (local, behind nothing)
/// send nothing, since the header would be ignored or lock out a later TLS-less setup.
fn strict_transport_security(
    state: &AppState,
) -> tower::util::Either<SetResponseHeaderLayer<HeaderValue>, tower::layer::util::Identity> {
    let header = state.config.is_https().then(|| {
        SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        )
    });
    tower::util::option_layer(header)
}
