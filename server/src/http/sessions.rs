//! `/api/sessions`: the caller's logins, with device, address and last use; revoke one.

use axum::extract::State;
use cromulent_protocol::auth::{Accepted, SessionInfo};
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::auth::Caller;
use crate::bus::BusMessage;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_sessions)).routes(routes!(revoke_session))
}

/// Every live login of the caller, most recently used first.
#[utoipa::path(get, path = "/api/sessions", tag = "account", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<SessionInfo>), (status = 401, body = ApiError)))]
async fn list_sessions(State(state): State<AppState>, caller: Caller) -> HttpResult<Json<Vec<SessionInfo>>> {
    Ok(Json(active_sessions(&state, &caller, now_ms()).await?))
}

/// The caller's sessions still in use at `now`, the one making the call marked current.
pub(super) async fn active_sessions(
    state: &AppState,
    caller: &Caller,
    now: i64,
) -> HttpResult<Vec<SessionInfo>> {
    let rows = store::sessions::list_active(state.db.pool(), caller.id(), now).await?;
    Ok(rows
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == caller.session_id,
            id: s.id,
            device_name: s.device_name,
            device_type: s.device_type,
            ip_address: s.ip_address,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
        })
        .collect())
}

/// End one of the caller's logins. Another user's session is "not found".
#[utoipa::path(delete, path = "/api/sessions/{id}", tag = "account", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "session id")),
    responses((status = 200, body = Accepted), (status = 404, body = ApiError)))]
async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Accepted>> {
    let session = store::sessions::find(state.db.pool(), id)
        .await?
        .filter(|s| s.user_id == caller.id() && s.revoked_at.is_none())
        .ok_or_else(|| HttpError::not_found("session"))?;
    store::sessions::revoke(state.db.pool(), session.id, now_ms()).await?;
    state.bus.publish(BusMessage::EndLogin { login_id: session.id }).await;
    Ok(Json(Accepted { ok: true }))
}
