//! `/api/channels/{id}/messages` and `/api/messages/{id}`: send, page, edit, delete.
//!
//! Every write runs in one write transaction: rights, the message, its mentions and the
//! notifications they cause commit together, and only then is the [`Change`] announced.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::limits::{
    MESSAGE_BODY_MAX_CHARS, MESSAGE_PAGE_DEFAULT, MESSAGE_PAGE_MAX, NONCE_MAX_CHARS,
};
use cromulent_protocol::message::{EditMessageRequest, ListMessagesQuery, Message, SendMessageRequest};
use cromulent_protocol::notification::{Notification, NotificationKind};
use cromulent_protocol::{ApiError, ErrorCode, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{page_limit, Json, Path, Query};
use crate::access::{self, ChannelAccess, Denied};
use crate::announce::{self, Change, Notified};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::mention::{self, Parsed};
use crate::state::AppState;
use crate::store::messages::{Cursor, NewMessage};
use crate::store::notifications::Scope;
use crate::store::{self, Conn};
use crate::validate;

/// Tries at sending before giving up: a retry happens only when a drawn id was taken by
/// another node's message (the nonce case answers at once).
const SEND_ATTEMPTS: u32 = 3;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(edit_message, delete_message))
}

/// A message body: trimmed, not empty, within the limit, line breaks as `\n`, and no
/// control characters other than line breaks and tabs.
fn message_body(raw: &str) -> HttpResult<String> {
    let body = raw.trim().replace("\r\n", "\n").replace('\r', "\n");
    if body.is_empty() {
        return Err(HttpError::invalid("body", "a message needs some text"));
    }
    if body.chars().count() > MESSAGE_BODY_MAX_CHARS {
        return Err(HttpError::invalid("body", format!("at most {MESSAGE_BODY_MAX_CHARS} characters")));
    }
    if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(HttpError::invalid("body", "control characters are not allowed"));
    }
    Ok(body)
}

enum Posted {
    New(Message, Vec<Notified>, Scope),
    /// The author sent this nonce before: the message already stored.
    Existing(Message),
    /// The insert hit a unique constraint; the transaction is rolled back.
    Collided,
}

/// Post a message. Resending the same `nonce` returns the message already stored
/// (`200`) instead of creating a second one (`201`).
#[utoipa::path(post, path = "/api/channels/{id}/messages", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")), request_body = SendMessageRequest,
    responses((status = 201, body = Message), (status = 200, body = Message, description = "the nonce was used before"),
        (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel_id): Path<Id>,
    Json(req): Json<SendMessageRequest>,
) -> HttpResult<(StatusCode, Json<Message>)> {
    let body = message_body(&req.body)?;
    let nonce = validate::optional_text(req.nonce.as_deref(), "nonce", NONCE_MAX_CHARS)?;
    let parsed = mention::parse(&body);
    let draft = Draft { channel_id, body: &body, nonce: nonce.as_deref(), parsed: &parsed };
    for _ in 0..SEND_ATTEMPTS {
        match post(&state, &caller, &draft).await? {
            Posted::New(message, notified, scope) => {
                announce::publish(
                    &state,
                    Change::MessageCreated { message: message.clone(), scope, notified },
                )
                .await;
                return Ok((StatusCode::CREATED, Json(message)));
            }
            Posted::Existing(message) => return replay(message, channel_id),
            Posted::Collided => {
                // Either a concurrent request with this nonce won (answer with its
                // message), or the id was taken (draw another).
                if let Some(nonce) = &nonce {
                    let mut conn = state.db.pool().acquire().await?;
                    if let Some(message) =
                        store::messages::find_by_nonce(&mut conn, caller.id(), nonce).await?
                    {
                        return replay(message, channel_id);
                    }
                }
            }
        }
    }
    tracing::error!(%channel_id, "no free message id after {SEND_ATTEMPTS} attempts");
    Err(HttpError::internal())
}

/// The answer to a repeated nonce: the stored message, if it was sent to this channel.
fn replay(message: Message, channel_id: Id) -> HttpResult<(StatusCode, Json<Message>)> {
    if message.channel_id != channel_id {
        return Err(HttpError::conflict(
            ErrorCode::Conflict,
            "this nonce was used for a message in another channel",
        ));
    }
    Ok((StatusCode::OK, Json(message)))
}

struct Draft<'a> {
    channel_id: Id,
    body: &'a str,
    nonce: Option<&'a str>,
    parsed: &'a Parsed,
}

async fn post(state: &AppState, caller: &Caller, draft: &Draft<'_>) -> HttpResult<Posted> {
    let mut tx = state.db.begin_write().await?;
    let access = access::visible_channel(&mut tx, caller, draft.channel_id).await?;
    access.ensure_can_post_mentioning(caller, draft.parsed)?;
    access::ensure_not_timed_out(&mut tx, caller).await?;
    let now = now_ms();
    // Lock first, then look for the nonce and draw the id: a concurrent send with the
    // same nonce waits here and then finds this one's message, and ids grow in the
    // order the channel's writers commit.
    let last = store::messages::lock_channel(&mut tx, draft.channel_id, now)
        .await?
        .ok_or_else(|| HttpError::not_found("channel"))?;
    if let Some(nonce) = draft.nonce {
        if let Some(message) = store::messages::find_by_nonce(&mut tx, caller.id(), nonce).await? {
            return Ok(Posted::Existing(message));
        }
    }
    let id = state.ids.next().max(Id(last.map_or(0, |id| id.0) + 1));
    let new = NewMessage {
        id,
        channel_id: draft.channel_id,
        author_id: caller.id(),
        body: draft.body,
        nonce: draft.nonce,
        created_at: now,
    };
    match store::messages::insert(&mut *tx, &new).await {
        Err(e) if store::is_unique_violation(&e) => return Ok(Posted::Collided),
        other => other?,
    }
    let mentions = store::messages::resolve_mentions(&mut tx, draft.parsed).await?;
    store::messages::replace_mentions(&mut tx, id, &mentions).await?;
    let message = Message {
        id,
        channel_id: draft.channel_id,
        author_id: caller.id(),
        body: draft.body.to_owned(),
        nonce: draft.nonce.map(str::to_owned),
        mentions,
        created_at: now,
        edited_at: None,
    };
    let scope = scope_of(&access);
    let notified = match notify(state, &mut tx, scope, &message, &BTreeSet::new(), now).await {
        Err(e) if store::is_unique_violation(&e) => return Ok(Posted::Collided),
        other => other?,
    };
    store::messages::set_last_message(&mut *tx, draft.channel_id, id).await?;
    // The author has read what they wrote: their own messages never count as unread.
    store::read_states::advance(&mut tx, caller.id(), draft.channel_id, id, now).await?;
    tx.commit().await?;
    Ok(Posted::New(message, notified, scope))
}

fn scope_of(access: &ChannelAccess) -> Scope {
    Scope::of(access.channel())
}

/// Notifies the users the message mentions who have no notification for it yet, except
/// those who want nothing from the channel now (level `nothing`, or muted): for them a
/// mention during the mute stays in the history, not in the inbox.
async fn notify(
    state: &AppState,
    conn: &mut Conn,
    scope: Scope,
    message: &Message,
    already: &BTreeSet<Id>,
    now: i64,
) -> sqlx::Result<Vec<Notified>> {
    let online = state.gateway.hub.online_users();
    let recipients =
        store::notifications::recipients(conn, scope, &message.mentions, message.author_id, &online).await?;
    let silenced = store::notification_settings::silenced(&mut *conn, message.channel_id, now).await?;
    let to: Vec<(Id, Id)> = recipients
        .difference(already)
        .filter(|user| !silenced.contains(user))
        .map(|&user| (state.ids.next(), user))
        .collect();
    let template = Notification {
        id: Id(0),
        kind: NotificationKind::Mention,
        channel_id: message.channel_id,
        message_id: message.id,
        actor_id: message.author_id,
        excerpt: store::notifications::excerpt(&message.body),
        created_at: now,
        read_at: None,
    };
    store::notifications::insert_many(conn, &template, &to).await?;
    Ok(to
        .into_iter()
        .map(|(id, user_id)| Notified { user_id, notification: Notification { id, ..template.clone() } })
        .collect())
}

/// A page of a channel's history, newest first. With `after`, pages never skip a
/// message, even one committed while the client was paging.
#[utoipa::path(get, path = "/api/channels/{id}/messages", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ListMessagesQuery),
    responses((status = 200, body = Vec<Message>), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel_id): Path<Id>,
    Query(query): Query<ListMessagesQuery>,
) -> HttpResult<Json<Vec<Message>>> {
    let cursor = match (query.before, query.after, query.around) {
        (None, None, None) => Cursor::Latest,
        (Some(id), None, None) => Cursor::Before(id),
        (None, Some(id), None) => Cursor::After(id),
        (None, None, Some(id)) => Cursor::Around(id),
        _ => return Err(HttpError::invalid("before", "use at most one of before, after and around")),
    };
    let limit = page_limit(query.limit, MESSAGE_PAGE_DEFAULT, MESSAGE_PAGE_MAX)?;
    let mut conn = state.db.pool().acquire().await?;
    access::visible_channel(&mut conn, &caller, channel_id).await?;
    Ok(Json(store::messages::page(&mut conn, channel_id, cursor, limit).await?))
}

/// The message and its channel, if the caller may see them; `404` otherwise, so a
/// private channel's message ids reveal nothing.
async fn visible_message(conn: &mut Conn, caller: &Caller, id: Id) -> HttpResult<(Message, ChannelAccess)> {
    let message = store::messages::find(conn, id).await?.ok_or_else(|| HttpError::not_found("message"))?;
    let access = access::visible_channel(conn, caller, message.channel_id).await.map_err(|e| match e {
        access::Error::Denied(Denied::Hidden) => HttpError::not_found("message"),
        e => e.into(),
    })?;
    Ok((message, access))
}

/// Edit one's own message. Mentions are parsed again; users the edit newly mentions
/// are notified, nobody twice.
#[utoipa::path(patch, path = "/api/messages/{id}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "message id")), request_body = EditMessageRequest,
    responses((status = 200, body = Message), (status = 403, body = ApiError), (status = 404, body = ApiError), (status = 422, body = ApiError)))]
async fn edit_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
    Json(req): Json<EditMessageRequest>,
) -> HttpResult<Json<Message>> {
    let body = message_body(&req.body)?;
    let parsed = mention::parse(&body);
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let (message, access) = visible_message(&mut tx, &caller, id).await?;
    if message.author_id != caller.id() {
        return Err(HttpError::forbidden("only the author may edit a message"));
    }
    // An edit can add what a send may not (a ping, text in a channel one has left or
    // that became admin-only), so it passes the same rules as a send.
    access.ensure_can_post_mentioning(&caller, &parsed)?;
    access::ensure_not_timed_out(&mut tx, &caller).await?;
    store::messages::update_body(&mut *tx, id, &body, now).await?;
    let mentions = store::messages::resolve_mentions(&mut tx, &parsed).await?;
    store::messages::replace_mentions(&mut tx, id, &mentions).await?;
    let message = Message { body, mentions, edited_at: Some(now), ..message };
    let already = store::notifications::notified_users(&mut *tx, id).await?;
    let scope = scope_of(&access);
    let notified = notify(&state, &mut tx, scope, &message, &already, now).await?;
    tx.commit().await?;
    announce::publish(&state, Change::MessageUpdated { message: message.clone(), scope, notified }).await;
    Ok(Json(message))
}

/// Delete a message: its author may, and so may admins and moderators.
#[utoipa::path(delete, path = "/api/messages/{id}", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "message id")),
    responses((status = 204, description = "deleted"), (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn delete_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<StatusCode> {
    let mut tx = state.db.begin_write().await?;
    let (message, access) = visible_message(&mut tx, &caller, id).await?;
    if message.author_id != caller.id() && !caller.may_moderate() {
        return Err(HttpError::forbidden("only the author, an admin or a moderator may delete a message"));
    }
    store::messages::delete(&mut *tx, id).await?;
    tx.commit().await?;
    announce::publish(&state, Change::MessageDeleted { message_id: id, scope: scope_of(&access) }).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            message_body("  hi\r\nthere \t").expect("valid"),
            "hi\nthere",
            "whitespace around is dropped"
        );
        assert!(message_body(" \n\t ").is_err(), "whitespace alone is no message");
        assert!(
            message_body(&"é".repeat(MESSAGE_BODY_MAX_CHARS)).is_ok(),
            "the limit counts characters, not bytes"
        );
        assert!(message_body(&"a".repeat(MESSAGE_BODY_MAX_CHARS + 1)).is_err());
        assert!(message_body("bell\u{7}").is_err(), "control characters would corrupt terminals and logs");
        assert!(message_body("code:\n\tindented").is_ok(), "tabs and newlines are Markdown");
    }
}
