//! `/api/users/me/blocks`: the people the caller blocked. A block works both ways for
//! direct messages (neither opens one with the other nor writes into one they share);
//! elsewhere it is the blocker's client that folds the blocked user's messages away.

use axum::extract::State;
use cromulent_protocol::auth::Accepted;
use cromulent_protocol::dm::Block;
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_blocks)).routes(routes!(block_user, unblock_user))
}

/// Everyone the caller blocked, newest first.
#[utoipa::path(get, path = "/api/users/me/blocks", tag = "users", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<Block>), (status = 401, body = ApiError)))]
async fn list_blocks(State(state): State<AppState>, caller: Caller) -> HttpResult<Json<Vec<Block>>> {
    Ok(Json(store::blocks::list(state.db.pool(), caller.id()).await?))
}

/// Block a user. Blocking again is not an error and keeps the first time.
#[utoipa::path(put, path = "/api/users/me/blocks/{user_id}", tag = "users", security(("bearer" = []), ("cookie" = [])),
    params(("user_id" = String, Path, description = "the user to block")),
    responses((status = 200, body = Block), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 403, body = ApiError, description = "one cannot block oneself")))]
async fn block_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<Id>,
) -> HttpResult<Json<Block>> {
    // Refused like moderating oneself: a well-formed request for something not allowed.
    if user_id == caller.id() {
        return Err(HttpError::forbidden("you cannot block yourself"));
    }
    let mut tx = state.db.begin_write().await?;
    store::users::find_by_id(&mut *tx, user_id).await?.ok_or_else(|| HttpError::not_found("user"))?;
    store::blocks::put(&mut *tx, caller.id(), user_id, now_ms()).await?;
    let block = store::blocks::list(&mut *tx, caller.id())
        .await?
        .into_iter()
        .find(|b| b.user_id == user_id)
        .ok_or_else(HttpError::internal)?;
    tx.commit().await?;
    tracing::debug!(by = %caller.id(), %user_id, "user blocked");
    Ok(Json(block))
}

/// Lift a block. `404` when the caller had not blocked that user.
#[utoipa::path(delete, path = "/api/users/me/blocks/{user_id}", tag = "users", security(("bearer" = []), ("cookie" = [])),
    params(("user_id" = String, Path, description = "the blocked user")),
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn unblock_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<Id>,
) -> HttpResult<Json<Accepted>> {
    if !store::blocks::delete(state.db.pool(), caller.id(), user_id).await? {
        return Err(HttpError::not_found("block"));
    }
    tracing::debug!(by = %caller.id(), %user_id, "user unblocked");
    Ok(Json(Accepted { ok: true }))
}
