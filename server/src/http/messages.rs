//! `/api/channels/{id}/messages` and `/api/messages/{id}`: send, page, edit, delete.
//!
//! Every write runs in one write transaction: rights, the message, its mentions, its
//! reply reference and the notifications they cause commit together, and only then is
//! the [`Change`] announced. Whatever else a message comes to carry (its attachments, a
//! search index row) belongs in [`post`] after the insert, in the same transaction.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::attachment::Attachment;
use cromulent_protocol::limits::{
    MESSAGE_ATTACHMENTS_MAX, MESSAGE_BODY_MAX_CHARS, MESSAGE_PAGE_DEFAULT, MESSAGE_PAGE_MAX, NONCE_MAX_CHARS,
};
use cromulent_protocol::message::{
    EditMessageRequest, ListMessagesQuery, Mention, Message, SendMessageRequest,
};
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

/// A message body: trimmed, within the limit, line breaks as `\n`, and no control
/// characters other than line breaks and tabs; not empty unless `may_be_empty` (a
/// message that carries files).
fn message_body(raw: &str, may_be_empty: bool) -> HttpResult<String> {
    let body = raw.trim().replace("\r\n", "\n").replace('\r', "\n");
    if body.is_empty() && !may_be_empty {
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
    let attachment_ids = attachment_ids(&req.attachment_ids)?;
    let body = message_body(&req.body, !attachment_ids.is_empty())?;
    let nonce = validate::optional_text(req.nonce.as_deref(), "nonce", NONCE_MAX_CHARS)?;
    let parsed = mention::parse(&body);
    let draft = Draft {
        channel_id,
        body: &body,
        nonce: nonce.as_deref(),
        parsed: &parsed,
        reply_to: req.reply_to,
        notify_reply_author: req.notify_reply_author.unwrap_or(true),
        attachment_ids: &attachment_ids,
    };
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
            Posted::Existing(message) => return replay(&state, &caller, message, channel_id).await,
            Posted::Collided => {
                // Either a concurrent request with this nonce won (answer with its
                // message), or the id was taken (draw another).
                if let Some(nonce) = &nonce {
                    let mut conn = state.db.pool().acquire().await?;
                    if let Some(message) =
                        store::messages::find_by_nonce(&mut conn, caller.id(), nonce).await?
                    {
                        return replay(&state, &caller, message, channel_id).await;
                    }
                }
            }
        }
    }
    tracing::error!(%channel_id, "no free message id after {SEND_ATTEMPTS} attempts");
    Err(HttpError::internal())
}

/// The answer to a repeated nonce: the stored message, if it was sent to this channel.
async fn replay(
    state: &AppState,
    caller: &Caller,
    mut message: Message,
    channel_id: Id,
) -> HttpResult<(StatusCode, Json<Message>)> {
    if message.channel_id != channel_id {
        return Err(HttpError::conflict(
            ErrorCode::Conflict,
            "this nonce was used for a message in another channel",
        ));
    }
    let mut conn = state.db.pool().acquire().await?;
    store::messages::hydrate(&mut conn, std::slice::from_mut(&mut message), caller.id()).await?;
    Ok((StatusCode::OK, Json(message)))
}

struct Draft<'a> {
    channel_id: Id,
    body: &'a str,
    nonce: Option<&'a str>,
    parsed: &'a Parsed,
    reply_to: Option<Id>,
    notify_reply_author: bool,
    attachment_ids: &'a [Id],
}

/// The uploads a send names: at most `MESSAGE_ATTACHMENTS_MAX`, each once.
fn attachment_ids(ids: &[Id]) -> HttpResult<Vec<Id>> {
    if ids.len() > MESSAGE_ATTACHMENTS_MAX {
        return Err(HttpError::invalid("attachment_ids", format!("at most {MESSAGE_ATTACHMENTS_MAX} files")));
    }
    if ids.iter().collect::<BTreeSet<_>>().len() != ids.len() {
        return Err(HttpError::invalid("attachment_ids", "a file is named twice"));
    }
    Ok(ids.to_vec())
}

/// Makes the named uploads the message's files, in the order named. Each must be the
/// author's own, uploaded into this channel less than a day ago and not sent yet; any
/// other id is refused alike (`422` on `attachment_ids`), revealing nothing about it.
async fn attach_files(
    conn: &mut Conn,
    draft: &Draft<'_>,
    author: Id,
    message_id: Id,
    now: i64,
) -> HttpResult<Vec<Attachment>> {
    let since = now - crate::attachments::UNSENT_TTL_MS;
    let rows =
        store::attachments::sendable(conn, draft.attachment_ids, author, draft.channel_id, since).await?;
    let mut files = Vec::with_capacity(rows.len());
    for (position, id) in draft.attachment_ids.iter().enumerate() {
        let row = rows.iter().find(|row| row.id == *id);
        let position = i64::try_from(position).expect("at most MESSAGE_ATTACHMENTS_MAX");
        match row {
            Some(row)
                if store::attachments::attach_to_message(&mut *conn, *id, message_id, position).await? =>
            {
                files.push(row.to_wire());
            }
            _ => {
                return Err(HttpError::invalid(
                    "attachment_ids",
                    format!("no unsent upload of yours here with id {id}"),
                ))
            }
        }
    }
    if !files.is_empty() {
        // What `has=attachment` in search looks at.
        store::messages::mark_has_attachment(&mut *conn, message_id).await?;
    }
    Ok(files)
}

/// The message a reply answers: one of the same channel, else `422` on `reply_to` (a
/// message elsewhere is no different from none, so nothing leaks about other channels).
async fn original(conn: &mut Conn, channel_id: Id, reply_to: Id) -> HttpResult<Message> {
    match store::messages::find(conn, reply_to).await? {
        Some(original) if original.channel_id == channel_id => Ok(original),
        _ => Err(HttpError::invalid("reply_to", "no such message in this channel")),
    }
}

async fn post(state: &AppState, caller: &Caller, draft: &Draft<'_>) -> HttpResult<Posted> {
    let mut tx = state.db.begin_write().await?;
    let access = access::visible_channel(&mut tx, caller, draft.channel_id).await?;
    access.ensure_can_post_mentioning(caller, draft.parsed)?;
    access::ensure_not_timed_out(&mut tx, caller).await?;
    access::ensure_not_blocked(&mut tx, caller, &access).await?;
    let original = match draft.reply_to {
        Some(id) => Some(original(&mut tx, draft.channel_id, id).await?),
        None => None,
    };
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
        reply_to: original.as_ref().map(|o| (o.id, o.author_id)),
    };
    match store::messages::insert(&mut *tx, &new).await {
        Err(e) if store::is_unique_violation(&e) => return Ok(Posted::Collided),
        other => other?,
    }
    let mentions = store::messages::resolve_mentions(&mut tx, draft.parsed).await?;
    store::messages::replace_mentions(&mut tx, id, &mentions).await?;
    let attachments = attach_files(&mut tx, draft, caller.id(), id, now).await?;
    let mut message = Message {
        id,
        channel_id: draft.channel_id,
        author_id: caller.id(),
        body: draft.body.to_owned(),
        nonce: draft.nonce.map(str::to_owned),
        mentions,
        created_at: now,
        edited_at: None,
        reply_to: None,
        reactions: Vec::new(),
        attachments,
    };
    if original.is_some() {
        store::messages::attach_references(&mut tx, std::slice::from_mut(&mut message)).await?;
    }
    let scope = scope_of(&access);
    let reply_author = original.filter(|_| draft.notify_reply_author).map(|o| o.author_id);
    let to = Notify { scope, message: &message, already: &BTreeSet::new(), reply_author, now };
    let notified = match notify(state, &mut tx, to).await {
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

/// What a new or edited message may notify.
struct Notify<'a> {
    scope: Scope,
    message: &'a Message,
    /// Users who hold a notification for it already.
    already: &'a BTreeSet<Id>,
    /// The author of the message a reply answers, when the reply should tell them: they
    /// are notified as if mentioned by name.
    reply_author: Option<Id>,
    now: i64,
}

/// Notifies the users the message mentions (and the replied-to author) who have no
/// notification for it yet, except those who want nothing from the channel now (level
/// `nothing`, or muted): for them a mention during the mute stays in the history, not
/// in the inbox.
async fn notify(state: &AppState, conn: &mut Conn, to: Notify<'_>) -> sqlx::Result<Vec<Notified>> {
    let Notify { scope, message, already, reply_author, now } = to;
    let online = state.gateway.hub.online_users();
    let mut reach = message.mentions.clone();
    reach.extend(reply_author.map(|user_id| Mention::User { user_id }));
    let mut recipients =
        store::notifications::recipients(conn, scope, &reach, message.author_id, &online).await?;
    if scope.is_dm && message.edited_at.is_none() {
        // Every message sent in a direct message is meant for the others in it; an edit
        // tells only whom it newly mentions, as elsewhere.
        recipients
            .extend(store::notifications::dm_recipients(conn, message.channel_id, message.author_id).await?);
    }
    let silenced = store::notification_settings::silenced(&mut *conn, message.channel_id, now).await?;
    let to: Vec<(Id, Id)> = recipients
        .difference(already)
        .filter(|user| !silenced.contains(user))
        .map(|&user| (state.ids.next(), user))
        .collect();
    let template = Notification {
        id: Id(0),
        kind: if scope.is_dm { NotificationKind::DirectMessage } else { NotificationKind::Mention },
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
    Ok(Json(store::messages::page(&mut conn, channel_id, cursor, limit, caller.id()).await?))
}

/// The message and its channel, if the caller may see them; `404` otherwise, so a
/// private channel's message ids reveal nothing.
pub(super) async fn visible_message(
    conn: &mut Conn,
    caller: &Caller,
    id: Id,
) -> HttpResult<(Message, ChannelAccess)> {
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
    let now = now_ms();
    let mut tx = state.db.begin_write().await?;
    let (message, access) = visible_message(&mut tx, &caller, id).await?;
    if message.author_id != caller.id() {
        return Err(HttpError::forbidden("only the author may edit a message"));
    }
    // A message with files may lose its text, as at send; an edit that would leave
    // nothing at all is refused: deleting the message says that better.
    let body = message_body(&req.body, store::attachments::message_has_files(&mut *tx, id).await?)?;
    let parsed = mention::parse(&body);
    // An edit can add what a send may not (a ping, text in a channel one has left or
    // that became admin-only), so it passes the same rules as a send.
    access.ensure_can_post_mentioning(&caller, &parsed)?;
    access::ensure_not_timed_out(&mut tx, &caller).await?;
    access::ensure_not_blocked(&mut tx, &caller, &access).await?;
    store::messages::update_body(&mut *tx, id, &body, now).await?;
    let mentions = store::messages::resolve_mentions(&mut tx, &parsed).await?;
    store::messages::replace_mentions(&mut tx, id, &mentions).await?;
    let mut message = Message { body, mentions, edited_at: Some(now), ..message };
    store::messages::hydrate(&mut tx, std::slice::from_mut(&mut message), caller.id()).await?;
    let already = store::notifications::notified_users(&mut *tx, id).await?;
    let scope = scope_of(&access);
    // The reply's author was told at send time (or chose not to be): an edit adds no one.
    let to = Notify { scope, message: &message, already: &already, reply_author: None, now };
    let notified = notify(&state, &mut tx, to).await?;
    tx.commit().await?;
    let mut event = message.clone();
    // The event reaches every reader; `me` is the editor's and means nothing to them.
    event.reactions.iter_mut().for_each(|r| r.me = false);
    announce::publish(&state, Change::MessageUpdated { message: event, scope, notified }).await;
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
    let was_pinned = store::pins::is_pinned(&mut *tx, id).await?;
    let blobs = store::attachments::blobs_of_message(&mut tx, id).await?;
    store::messages::delete(&mut *tx, id).await?;
    tx.commit().await?;
    // Its files go with it, unless another message holds the same bytes.
    state.attachments.release(&state.db, &blobs, now_ms()).await;
    let scope = scope_of(&access);
    announce::publish(&state, Change::MessageDeleted { message_id: id, scope }).await;
    if was_pinned {
        let change = Change::PinsUpdated { scope, message_id: id, pinned: false, user_id: caller.id() };
        announce::publish(&state, change).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            message_body("  hi\r\nthere \t", false).expect("valid"),
            "hi\nthere",
            "whitespace around is dropped"
        );
        assert!(message_body(" \n\t ", false).is_err(), "whitespace alone is no message");
        assert_eq!(message_body(" ", true).expect("files alone are a message"), "");
        assert!(
            message_body(&"é".repeat(MESSAGE_BODY_MAX_CHARS), false).is_ok(),
            "the limit counts characters, not bytes"
        );
        assert!(message_body(&"a".repeat(MESSAGE_BODY_MAX_CHARS + 1), true).is_err());
        assert!(
            message_body("bell\u{7}", false).is_err(),
            "control characters would corrupt terminals and logs"
        );
        assert!(message_body("code:\n\tindented", false).is_ok(), "tabs and newlines are Markdown");
    }
}
