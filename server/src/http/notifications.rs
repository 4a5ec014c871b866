//! `/api/notifications`: the caller's mention inbox; mark one or all read.

use axum::extract::State;
use cromulent_protocol::notification::{
    ListNotificationsQuery, MarkedRead, Notification, NOTIFICATION_PAGE_DEFAULT, NOTIFICATION_PAGE_MAX,
};
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{page_limit, Json, Path, Query};
use crate::announce::{self, Change, Marked};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::notifications::InboxPage;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(read_notification))
        .routes(routes!(read_all_notifications))
}

/// The caller's notifications, newest first; page back with `before`.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", security(("bearer" = []), ("cookie" = [])),
    params(ListNotificationsQuery),
    responses((status = 200, body = Vec<Notification>), (status = 422, body = ApiError)))]
async fn list_notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<ListNotificationsQuery>,
) -> HttpResult<Json<Vec<Notification>>> {
    let page = InboxPage {
        user_id: caller.id(),
        is_admin: caller.is_admin(),
        unread_only: query.unread_only,
        before: query.before,
        limit: page_limit(query.limit, NOTIFICATION_PAGE_DEFAULT, NOTIFICATION_PAGE_MAX)?,
    };
    Ok(Json(store::notifications::list(state.db.pool(), &page).await?))
}

/// Mark one of the caller's notifications read. Anyone else's is "not found".
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "notification id")),
    responses((status = 200, body = Notification), (status = 404, body = ApiError)))]
async fn read_notification(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Notification>> {
    let pool = state.db.pool();
    // Looked up first: a notification from a private channel the caller has left is
    // "not found", and is neither marked nor shown (its excerpt would leak the channel).
    let find = || store::notifications::find_own(pool, id, caller.id(), caller.is_admin());
    find().await?.ok_or_else(|| HttpError::not_found("notification"))?;
    if !store::notifications::mark_read(pool, id, caller.id(), now_ms()).await? {
        return Err(HttpError::not_found("notification"));
    }
    let notification = find().await?.ok_or_else(|| HttpError::not_found("notification"))?;
    announce::publish(&state, Change::NotificationsRead { user_id: caller.id(), which: Marked::One(id) })
        .await;
    Ok(Json(notification))
}

/// Mark every notification of the caller read.
#[utoipa::path(post, path = "/api/notifications/read_all", tag = "notifications", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = MarkedRead)))]
async fn read_all_notifications(
    State(state): State<AppState>,
    caller: Caller,
) -> HttpResult<Json<MarkedRead>> {
    let marked = store::notifications::mark_all_read(state.db.pool(), caller.id(), now_ms()).await?;
    announce::publish(&state, Change::NotificationsRead { user_id: caller.id(), which: Marked::All }).await;
    Ok(Json(MarkedRead { marked }))
}
