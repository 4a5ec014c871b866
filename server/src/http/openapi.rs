//! The OpenAPI document, generated from the handlers' annotations, at `/api/openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
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

pub fn router(document: OpenApi) -> Router<AppState> {
    let document = std::sync::Arc::new(document);
    Router::new().route(
        "/api/openapi.json",
        get(move || {
            let document = document.clone();
            async move { Json(document.as_ref().clone()) }
        }),
    )
}
