//! `/api/dms`: open a direct message with some people, and list one's direct messages.
//!
//! A direct message is a private channel of kind `dm` whose members are its
//! participants, fixed when it is opened: the same people always find the same one
//! (`store::dms::key_of`). Everything else about it (history, members, read state,
//! notification settings, typing, its voice room) goes through the channel endpoints
//! and ops, where [`crate::access`] lets its participants in and nobody else, admins
//! included. Direct messages also appear in `GET /api/channels` with their unread and
//! mention counts; `GET /api/dms` adds who takes part in each.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::dm::{DirectMessage, OpenDmRequest, DM_OTHERS_MAX};
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::Json;
use crate::access::Denied;
use crate::announce::{self, Change};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_dms, open_dm))
}

/// The other participants, checked: 1 to `DM_OTHERS_MAX`, each once, not the caller.
fn others_of(caller: &Caller, user_ids: &[Id]) -> HttpResult<Vec<Id>> {
    if user_ids.is_empty() || user_ids.len() > DM_OTHERS_MAX {
        return Err(HttpError::invalid("user_ids", format!("name 1 to {DM_OTHERS_MAX} other people")));
    }
    // A person named twice (or as "7" and "07", which no schema can tell apart) is
    // one participant.
    let unique: BTreeSet<Id> = user_ids.iter().copied().collect();
    if unique.contains(&caller.id()) {
        return Err(HttpError::invalid("user_ids", "you take part already: name the others only"));
    }
    Ok(unique.into_iter().collect())
}

/// Open the direct message of the caller and `user_ids`, or find the one these people
/// already share (`200`; `201` when new). Refused when the caller and one of them
/// blocked one another.
#[utoipa::path(post, path = "/api/dms", tag = "dms", security(("bearer" = []), ("cookie" = [])),
    request_body = OpenDmRequest,
    responses((status = 201, body = DirectMessage), (status = 200, body = DirectMessage, description = "it existed"),
        (status = 400, body = ApiError),
        (status = 403, body = ApiError, description = "`blocked`: the caller and one of them blocked one another"),
        (status = 404, body = ApiError, description = "no such user"),
        (status = 422, body = ApiError, description = "no one, too many, or the caller named")))]
async fn open_dm(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<OpenDmRequest>,
) -> HttpResult<(StatusCode, Json<DirectMessage>)> {
    let others = others_of(&caller, &req.user_ids)?;
    let mut participants = others.clone();
    participants.push(caller.id());
    participants.sort_unstable();
    let key = store::dms::key_of(&participants);
    // Two attempts: a racing open of the same people makes the first fail on the key,
    // and the second finds theirs.
    for _ in 0..2 {
        let mut tx = state.db.begin_write().await?;
        for user_id in &others {
            // A deleted account's tombstone cannot read, so nobody may open a DM with it.
            store::users::find_by_id(&mut *tx, *user_id)
                .await?
                .filter(|user| user.deleted_at.is_none())
                .ok_or_else(|| HttpError::not_found("user"))?;
        }
        if store::blocks::any_between(&mut *tx, caller.id(), &others).await? {
            return Err(Denied::Blocked.into());
        }
        if let Some(id) = store::dms::find_by_key(&mut *tx, &key).await? {
            let channel = store::channels::find(&mut *tx, id).await?.ok_or_else(HttpError::internal)?.channel;
            return Ok((StatusCode::OK, Json(DirectMessage { channel, participant_ids: participants })));
        }
        let channel = store::dms::new_channel(state.ids.next(), now_ms());
        match store::dms::insert(&mut tx, &channel, &participants).await {
            Err(e) if store::is_unique_violation(&e) => continue,
            other => other?,
        }
        tx.commit().await?;
        announce::publish(&state, Change::ChannelCreated(channel.clone())).await;
        let people = participants.len();
        tracing::info!(channel_id = %channel.id, by = %caller.id(), people, "direct message opened");
        return Ok((StatusCode::CREATED, Json(DirectMessage { channel, participant_ids: participants })));
    }
    tracing::error!("a direct message's key collided twice");
    Err(HttpError::internal())
}

/// Every direct message the caller takes part in, with its participants, most recently
/// active first. Their unread counts are in `GET /api/channels`.
#[utoipa::path(get, path = "/api/dms", tag = "dms", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<DirectMessage>), (status = 401, body = ApiError)))]
async fn list_dms(State(state): State<AppState>, caller: Caller) -> HttpResult<Json<Vec<DirectMessage>>> {
    let mut conn = state.db.pool().acquire().await?;
    let mut out = Vec::new();
    for (channel_id, participant_ids) in store::dms::list_for_user(&mut *conn, caller.id()).await? {
        let channel =
            store::channels::find(&mut *conn, channel_id).await?.ok_or_else(HttpError::internal)?.channel;
        out.push(DirectMessage { channel, participant_ids });
    }
    Ok(Json(out))
}
