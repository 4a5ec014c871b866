//! The OpenAPI document at `/api/openapi.json`: generated from the handlers'
//! annotations, then completed with what annotations cannot say well, so that the
//! document describes the server a client really talks to:
//! - [`common_responses`]: the answers every operation of a kind can give (a malformed
//!   body, a missing login, the write budget), whichever handler it reaches;
//! - [`request_rules`]: what the server accepts in each field (lengths, patterns, ranges),
//!   written next to the limits they come from.
//!
//! `scripts/openapi-check.sh` holds the document to this: it sends generated requests,
//! valid and invalid, and fails on any answer the document does not describe.

mod common_responses;
mod request_rules;

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;

use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Cromulent", description = "Self-hosted voice and text chat: the HTTP API."),
    modifiers(&Security),
    components(schemas(cromulent_protocol::ApiError, cromulent_protocol::ErrorCode))
)]
struct Base;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("cromulent_session"))),
        );
    }
}

pub fn base() -> OpenApi {
    <Base as utoipa::OpenApi>::openapi()
}

/// Serves the document. It is completed on first request, because some of what the
/// server accepts (an invite's most uses, say) are settings of this server.
pub fn router(document: OpenApi) -> Router<AppState> {
    let generated = Arc::new(document);
    let completed = Arc::new(OnceLock::<Value>::new());
    Router::new().route(
        "/api/openapi.json",
        get(move |State(state): State<AppState>| {
            let (generated, completed) = (generated.clone(), completed.clone());
            async move { Json(completed.get_or_init(|| complete(&generated, &state.config.limits)).clone()) }
        }),
    )
}

/// The generated document with the common responses and the request rules added.
pub fn complete(generated: &OpenApi, limits: &crate::config::LimitsConfig) -> Value {
    let mut document = serde_json::to_value(generated).expect("an OpenAPI document serializes");
    common_responses::add(&mut document);
    request_rules::apply(&mut document, limits);
    document
}
