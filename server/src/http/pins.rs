//! `/api/channels/{id}/pins`: a channel's pinned messages; pin and unpin.
//!
//! Admins pin anything; in channels where everyone may write, a message's author may
//! pin their own ([`crate::access`]). Pinning twice or unpinning what is not pinned
//! answers `204` and announces nothing.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::message::Pin;
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use super::messages::visible_message;
use crate::access::{self, ChannelAccess};
use crate::announce::{self, Change};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::notifications::Scope;
use crate::store::pins::PinRow;
use crate::store::{self, Conn};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_pins)).routes(routes!(pin_message, unpin_message))
}

/// The channel's pinned messages, newest pin first (at most `PINS_PER_CHANNEL_MAX`).
#[utoipa::path(get, path = "/api/channels/{id}/pins", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = Vec<Pin>), (status = 404, body = ApiError)))]
async fn list_pins(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel_id): Path<Id>,
) -> HttpResult<Json<Vec<Pin>>> {
    let mut conn = state.db.pool().acquire().await?;
    access::visible_channel(&mut conn, &caller, channel_id).await?;
    let pins = store::pins::list(&mut conn, channel_id).await?;
    let ids: Vec<Id> = pins.iter().map(|p| p.message_id).collect();
    let mut messages = store::messages::find_many(&mut conn, &ids).await?;
    store::messages::hydrate(&mut conn, &mut messages, caller.id()).await?;
    let pinned = pins
        .into_iter()
        .filter_map(|pin| {
            let at = messages.iter().position(|m| m.id == pin.message_id)?;
            Some(Pin {
                message: messages.swap_remove(at),
                pinned_by: pin.pinned_by,
                pinned_at: pin.pinned_at,
            })
        })
        .collect();
    Ok(Json(pinned))
}

/// Pin a message of the channel.
#[utoipa::path(put, path = "/api/channels/{id}/pins/{message_id}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ("message_id" = String, Path, description = "message id")),
    responses((status = 204, description = "the message is pinned (now or already)"),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
async fn pin_message(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel_id, message_id)): Path<(Id, Id)>,
) -> HttpResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    let access = pinnable(&mut tx, &caller, channel_id, message_id).await?;
    // Serialises pins of one channel, so racing pins cannot pass the cap together.
    store::pins::lock_channel(&mut *tx, channel_id).await?;
    let max = state.config.limits.pins_per_channel_max;
    if store::pins::count(&mut *tx, channel_id).await? >= i64::from(max)
        && !store::pins::is_pinned(&mut *tx, message_id).await?
    {
        return Err(HttpError::invalid("message_id", format!("a channel holds at most {max} pins")));
    }
    let pin = PinRow { message_id, pinned_by: caller.id(), pinned_at: now_ms() };
    let changed = store::pins::add(&mut *tx, channel_id, pin).await?;
    tx.commit().await?;
    announce_pin(&state, &caller, &access, message_id, changed.then_some(true)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Unpin a message of the channel.
#[utoipa::path(delete, path = "/api/channels/{id}/pins/{message_id}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ("message_id" = String, Path, description = "message id")),
    responses((status = 204, description = "the message is not pinned (now or already)"),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn unpin_message(
    State(state): State<AppState>,
    caller: Caller,
    Path((channel_id, message_id)): Path<(Id, Id)>,
) -> HttpResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    let access = pinnable(&mut tx, &caller, channel_id, message_id).await?;
    let changed = store::pins::remove(&mut *tx, channel_id, message_id).await?;
    tx.commit().await?;
    announce_pin(&state, &caller, &access, message_id, changed.then_some(false)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// The channel of a message the caller may pin or unpin there: `404` for a message
/// they cannot see or one of another channel, `403` without the right.
async fn pinnable(
    conn: &mut Conn,
    caller: &Caller,
    channel_id: Id,
    message_id: Id,
) -> HttpResult<ChannelAccess> {
    let (message, access) = visible_message(conn, caller, message_id).await?;
    if message.channel_id != channel_id {
        return Err(HttpError::not_found("message"));
    }
    access.ensure_can_pin(caller, message.author_id)?;
    access::ensure_not_timed_out(conn, caller).await?;
    Ok(access)
}

async fn announce_pin(
    state: &AppState,
    caller: &Caller,
    access: &ChannelAccess,
    message_id: Id,
    pinned: Option<bool>,
) {
    let Some(pinned) = pinned else { return };
    let scope = Scope::of(access.channel());
    announce::publish(state, Change::PinsUpdated { scope, message_id, pinned, user_id: caller.id() }).await;
}
