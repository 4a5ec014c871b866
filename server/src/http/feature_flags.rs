//! Feature flags: everyone signed in reads them (clients hide what is off); admins set
//! them at `/api/admin/feature_flags`.

use axum::extract::State;
use cromulent_protocol::feature_flag::{FeatureFlags, UpdateFeatureFlagsRequest};
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::HttpResult;
use super::extract::Json;
use crate::announce::{self, Change};
use crate::auth::{AdminCaller, Caller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_feature_flags)).routes(routes!(update_feature_flags))
}

/// The flags in force: admin choices over the server's defaults.
#[utoipa::path(get, path = "/api/feature_flags", tag = "feature_flags", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = FeatureFlags), (status = 401, body = ApiError)))]
async fn get_feature_flags(State(state): State<AppState>, _caller: Caller) -> HttpResult<Json<FeatureFlags>> {
    Ok(Json(state.feature_flags().await?))
}

/// Set flags (admins): fields present are set, the rest keep their value.
#[utoipa::path(patch, path = "/api/admin/feature_flags", tag = "feature_flags",
    security(("bearer" = []), ("cookie" = [])), request_body = UpdateFeatureFlagsRequest,
    responses((status = 200, body = FeatureFlags), (status = 400, body = ApiError), (status = 403, body = ApiError)))]
async fn update_feature_flags(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Json(req): Json<UpdateFeatureFlagsRequest>,
) -> HttpResult<Json<FeatureFlags>> {
    let mut tx = state.db.begin_write().await?;
    store::feature_flags::update(&mut tx, &req, now_ms()).await?;
    let flags = store::feature_flags::load(&mut *tx, state.flag_defaults()).await?;
    let record = store::audit_log::NewEntry {
        details: serde_json::json!({ "changed": &req, "flags": &flags }),
        ..super::audit_log::entry(&state, &caller, AuditAction::FeatureFlagsUpdated)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    announce::publish(&state, Change::FlagsUpdated(flags)).await;
    tracing::info!(by = %caller.id(), ?flags, "feature flags set");
    Ok(Json(flags))
}
