//! `/api/messages/{id}/reactions/{emoji}`: add and take back one's own reaction.
//!
//! Both are idempotent: repeating one answers `204` again and announces nothing, so a
//! client may retry freely. The emoji travels URL-encoded in the path and must be one of
//! Unicode's emoji (skin tones included); it is stored fully qualified, so `☺` and
//! `☺️` count as one.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::limits::REACTION_EMOJI_MAX_BYTES;
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::Path;
use super::messages::visible_message;
use crate::access;
use crate::announce::{self, Change};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::notifications::Scope;
use crate::store::reactions::OwnReaction;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(add_reaction, remove_reaction))
}

/// The emoji as stored (fully qualified), or `422` on `emoji`.
pub fn emoji(raw: &str) -> HttpResult<&'static str> {
    if raw.len() > REACTION_EMOJI_MAX_BYTES {
        return Err(HttpError::invalid("emoji", "not an emoji"));
    }
    // Pickers built on other data than Unicode's own list add U+FE0F (emoji
    // presentation) where Unicode qualifies no emoji with it (`👍️`); it selects a
    // look, not another emoji, so without it is the same one.
    emojis::get(raw)
        .or_else(|| emojis::get(&raw.replace('\u{fe0f}', "")))
        .map(emojis::Emoji::as_str)
        .ok_or_else(|| HttpError::invalid("emoji", "not an emoji"))
}

/// React to a message with an emoji (URL-encoded). Needs membership of the channel; a
/// new emoji on a message that has `REACTIONS_PER_MESSAGE_MAX` already is refused.
#[utoipa::path(put, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "message id"), ("emoji" = String, Path, description = "a Unicode emoji, URL-encoded")),
    responses((status = 204, description = "the caller reacts with this emoji (now or already)"),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn add_reaction(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, raw)): Path<(Id, String)>,
) -> HttpResult<StatusCode> {
    change(&state, &caller, id, &raw, true).await
}

/// Take back one's own reaction.
#[utoipa::path(delete, path = "/api/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "message id"), ("emoji" = String, Path, description = "a Unicode emoji, URL-encoded")),
    responses((status = 204, description = "the caller does not react with this emoji (now or already)"),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn remove_reaction(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, raw)): Path<(Id, String)>,
) -> HttpResult<StatusCode> {
    change(&state, &caller, id, &raw, false).await
}

async fn change(state: &AppState, caller: &Caller, id: Id, raw: &str, add: bool) -> HttpResult<StatusCode> {
    let emoji = emoji(raw)?;
    let mut tx = state.db.begin_write().await?;
    let (message, access) = visible_message(&mut tx, caller, id).await?;
    access.ensure_can_react()?;
    access::ensure_not_timed_out(&mut tx, caller).await?;
    if add {
        // A reaction speaks to the others in a DM as a message does; taking one's own
        // back is always allowed.
        access::ensure_not_blocked(&mut tx, caller, &access).await?;
    }
    state.throttles.reactions_per_user.reserve(&caller.id().to_string()).map_err(HttpError::rate_limited)?;
    // Serialises reactions to one message on PostgreSQL (SQLite's write transaction
    // already does), so two new emoji racing each other cannot both pass the cap.
    store::messages::lock(&mut *tx, id).await?;
    let reaction = OwnReaction { message_id: id, user_id: caller.id(), emoji };
    let changed = if add {
        let (distinct, present) = store::reactions::distinct(&mut *tx, id, emoji).await?;
        let max = state.config.limits.reactions_per_message_max;
        if !present && distinct >= i64::from(max) {
            return Err(HttpError::invalid(
                "emoji",
                format!("a message carries at most {max} different emoji"),
            ));
        }
        store::reactions::add(&mut *tx, reaction, now_ms()).await?
    } else {
        store::reactions::remove(&mut *tx, reaction).await?
    };
    tx.commit().await?;
    if changed {
        let scope = Scope::of(access.channel());
        let change = Change::ReactionChanged {
            scope,
            message_id: message.id,
            user_id: caller.id(),
            emoji: emoji.to_owned(),
            added: add,
        };
        announce::publish(state, change).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_emoji_pass_and_are_stored_fully_qualified() {
        assert_eq!(emoji("👍").expect("an emoji"), "👍");
        assert_eq!(emoji("👍🏽").expect("skin tones are emoji too"), "👍🏽");
        assert_eq!(emoji("\u{263a}").expect("unqualified"), "\u{263a}\u{fe0f}", "one spelling per emoji");
        assert_eq!(
            emoji("👍\u{fe0f}").expect("over-qualified"),
            "👍",
            "a needless presentation selector is dropped"
        );
        assert!(emoji("a").is_err() && emoji("").is_err() && emoji(":+1:").is_err(), "text is no emoji");
        assert!(emoji(&"👍".repeat(40)).is_err(), "a run of emoji is not one");
    }
}
