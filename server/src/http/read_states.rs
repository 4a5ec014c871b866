//! `POST /api/channels/{id}/ack`: move the caller's read marker in a channel.

use axum::extract::State;
use cromulent_protocol::channel::{AckRequest, ReadState};
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::access;
use crate::announce::{self, Change};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ack_channel))
}

/// Mark the channel read up to and including a message of it, and the caller's
/// notifications there with it. The marker only moves forward: acking an older message
/// (say, from a device that was offline) leaves it where it is.
#[utoipa::path(post, path = "/api/channels/{id}/ack", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")), request_body = AckRequest,
    responses((status = 200, body = ReadState), (status = 404, body = ApiError)))]
async fn ack_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel_id): Path<Id>,
    Json(req): Json<AckRequest>,
) -> HttpResult<Json<ReadState>> {
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    access::visible_channel(&mut tx, &caller, channel_id).await?;
    let message = store::messages::find(&mut tx, req.message_id).await?;
    if message.is_none_or(|m| m.channel_id != channel_id) {
        return Err(HttpError::not_found("message in this channel"));
    }
    let marker = store::read_states::advance(&mut tx, caller.id(), channel_id, req.message_id, now).await?;
    store::notifications::mark_read_up_to(&mut *tx, caller.id(), channel_id, marker, now).await?;
    tx.commit().await?;
    let read_state = ReadState { channel_id, last_read_message_id: Some(marker) };
    announce::publish(
        &state,
        Change::ReadStateMoved { user_id: caller.id(), read_state: read_state.clone() },
    )
    .await;
    Ok(Json(read_state))
}
