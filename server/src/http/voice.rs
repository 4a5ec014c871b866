//! Voice connectivity: ICE servers with TURN credentials, relay-only preferences, the
//! admin's relay self-test.

use axum::extract::State;
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::voice::{
    IceServersResponse, SelfTestReport, UpdateVoicePreferencesRequest, UpdateVoiceSettingsRequest,
    VoicePreferences, VoiceSettings,
};
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::HttpResult;
use super::extract::Json;
use crate::auth::{AdminCaller, Caller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::voice_privacy as privacy;
use crate::turn::self_test;
use crate::voice::ice;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_ice_servers))
        .routes(routes!(get_voice_preferences, update_voice_preferences))
        .routes(routes!(get_voice_settings, update_voice_settings))
        .routes(routes!(run_voice_self_test))
}

/// ICE servers for a peer connection: STUN, and TURN with credentials for the caller
/// that expire at `expires_at`.
#[utoipa::path(get, path = "/api/voice/ice-servers", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = IceServersResponse), (status = 401, body = ApiError)))]
async fn get_ice_servers(
    State(state): State<AppState>,
    caller: Caller,
) -> HttpResult<Json<IceServersResponse>> {
    let access = ice::for_user(&state, caller.id()).await?;
    Ok(Json(IceServersResponse {
        ice_servers: access.ice_servers,
        ice_transport_policy: access.ice_transport_policy,
        expires_at: access.expires_at,
    }))
}

async fn preferences(state: &AppState, caller: &Caller) -> HttpResult<VoicePreferences> {
    let mut conn = state.db.pool().acquire().await?;
    let (relay_only, forced_by_admin) = privacy::for_user(&mut conn, caller.id()).await?;
    Ok(VoicePreferences { relay_only, forced_by_admin })
}

/// The caller's relay-only choice, and whether an admin forces it anyway.
#[utoipa::path(get, path = "/api/voice/preferences", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = VoicePreferences), (status = 401, body = ApiError)))]
async fn get_voice_preferences(
    State(state): State<AppState>,
    caller: Caller,
) -> HttpResult<Json<VoicePreferences>> {
    Ok(Json(preferences(&state, &caller).await?))
}

/// Choose relay-only voice: peers then see the server's address, never the caller's.
/// Takes effect at the next `voice_join`.
#[utoipa::path(patch, path = "/api/voice/preferences", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateVoicePreferencesRequest,
    responses((status = 200, body = VoicePreferences), (status = 401, body = ApiError)))]
async fn update_voice_preferences(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<UpdateVoicePreferencesRequest>,
) -> HttpResult<Json<VoicePreferences>> {
    if let Some(relay_only) = req.relay_only {
        privacy::set_relay_only(state.db.pool(), caller.id(), relay_only, now_ms()).await?;
    }
    Ok(Json(preferences(&state, &caller).await?))
}

/// Server-wide voice settings (admins).
#[utoipa::path(get, path = "/api/admin/voice/settings", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = VoiceSettings), (status = 403, body = ApiError)))]
async fn get_voice_settings(
    State(state): State<AppState>,
    _admin: AdminCaller,
) -> HttpResult<Json<VoiceSettings>> {
    Ok(Json(VoiceSettings { force_relay: privacy::force_relay(state.db.pool()).await? }))
}

/// Force relay-only voice for everyone (admins). Takes effect at the next `voice_join`.
#[utoipa::path(patch, path = "/api/admin/voice/settings", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    request_body = UpdateVoiceSettingsRequest,
    responses((status = 200, body = VoiceSettings), (status = 403, body = ApiError)))]
async fn update_voice_settings(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Json(req): Json<UpdateVoiceSettingsRequest>,
) -> HttpResult<Json<VoiceSettings>> {
    if let Some(force_relay) = req.force_relay {
        let mut tx = state.db.begin_write().await?;
        privacy::set_force_relay(&mut *tx, force_relay, now_ms()).await?;
        let record = store::audit_log::NewEntry {
            details: serde_json::json!({ "force_relay": force_relay }),
            ..super::audit_log::entry(&state, &caller, AuditAction::VoiceSettingsUpdated)
        };
        store::audit_log::record(&mut *tx, record).await?;
        tx.commit().await?;
        tracing::info!(by = %caller.id(), force_relay, "voice relay policy set");
    }
    Ok(Json(VoiceSettings { force_relay: privacy::force_relay(state.db.pool()).await? }))
}

/// Allocate through the built-in TURN server with fresh credentials and report what
/// worked: STUN binding, allocation, a relayed round trip, and the peer filter.
#[utoipa::path(post, path = "/api/admin/voice/self-test", tag = "voice", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = SelfTestReport), (status = 403, body = ApiError)))]
async fn run_voice_self_test(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
) -> HttpResult<Json<SelfTestReport>> {
    let report = self_test::run(&state.turn, caller.id()).await;
    tracing::info!(by = %caller.id(), ok = report.ok, "voice self-test");
    Ok(Json(report))
}
