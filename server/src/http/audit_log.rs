//! `GET /api/admin/audit_log`: what admins and moderators did, newest first, and the
//! helper every audited handler builds its entry with.

use axum::extract::State;
use cromulent_protocol::moderation::{
    AuditAction, AuditEntry, AuditLogQuery, AUDIT_LOG_PAGE_DEFAULT, AUDIT_LOG_PAGE_MAX,
};
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::HttpResult;
use super::extract::{page_limit, Json, Query};
use crate::auth::{Caller, ModeratorCaller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::audit_log::NewEntry;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

/// An entry by `actor`, now, with a fresh id; the caller fills in targets and details
/// and records it in the transaction of the change.
pub(crate) fn entry(state: &AppState, actor: &Caller, action: AuditAction) -> NewEntry<'static> {
    NewEntry {
        id: state.ids.next(),
        actor_id: actor.id(),
        action,
        target_user_id: None,
        target_channel_id: None,
        reason: None,
        details: serde_json::json!({}),
        created_at: now_ms(),
    }
}

/// A page of the audit log (admins and moderators), newest first; pass the last id
/// seen as `before` for the next page. Ids grow with time, so the order is the order
/// in which the changes were made.
#[utoipa::path(get, path = "/api/admin/audit_log", tag = "moderation", security(("bearer" = []), ("cookie" = [])),
    params(AuditLogQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
async fn list_audit_log(
    State(state): State<AppState>,
    _moderator: ModeratorCaller,
    Query(query): Query<AuditLogQuery>,
) -> HttpResult<Json<Vec<AuditEntry>>> {
    let limit = page_limit(query.limit, AUDIT_LOG_PAGE_DEFAULT, AUDIT_LOG_PAGE_MAX)?;
    Ok(Json(store::audit_log::page(state.db.pool(), query.before, limit).await?))
}
