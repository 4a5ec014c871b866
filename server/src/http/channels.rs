//! `/api/channels`: the caller's channel list, one channel, and admin create/update/delete.
//! Memberships live in [`members`], each user's notification setting in
//! [`notification_settings`].
//!
//! Write handlers end holding what changed (the channel, or its id) after the commit, so
//! the gateway can announce it with one `bus` call there.

mod members;
mod notification_settings;

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::auth::Accepted;
use cromulent_protocol::channel::{
    Channel, ChannelKind, ChannelListEntry, CreateChannelRequest, UpdateChannelRequest,
};
use cromulent_protocol::limits::{CHANNEL_NAME_MAX_CHARS, CHANNEL_TOPIC_MAX_CHARS};
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::{ApiError, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log;
use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::announce::{self, Change};
use crate::auth::{AdminCaller, Caller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::channels::VisibleChannel;
use crate::store::notifications::Scope;
use crate::store::Unique;
use crate::{access, store, validate, voice};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, delete_channel))
        .merge(members::router())
        .merge(notification_settings::router())
}

/// Trimmed and lower-cased; letters, digits, `-` and `_`, so a name reads as `#name`.
/// What a (lower-cased) channel name may hold.
pub(crate) fn is_channel_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

fn channel_name(raw: &str) -> HttpResult<String> {
    let name = raw.trim().to_lowercase();
    if !(1..=CHANNEL_NAME_MAX_CHARS).contains(&name.chars().count()) {
        return Err(HttpError::invalid(
            "name",
            format!("a channel name has 1 to {CHANNEL_NAME_MAX_CHARS} characters"),
        ));
    }
    if !name.chars().all(is_channel_name_char) {
        return Err(HttpError::invalid("name", "use lower-case letters, digits, '-' and '_' only"));
    }
    Ok(name)
}

fn topic(raw: Option<&str>) -> HttpResult<Option<String>> {
    Ok(validate::optional_text(raw, "topic", CHANNEL_TOPIC_MAX_CHARS)?)
}

/// Everyone joins a default channel, so it cannot also be private.
fn ensure_open_if_default(channel: &Channel) -> HttpResult<()> {
    if channel.is_default && channel.is_private {
        return Err(HttpError::invalid("is_private", "a default channel is open to everyone"));
    }
    Ok(())
}

/// A channel an admin may change or delete: any but a direct message, which is its
/// participants' alone and hidden from admins (`404`, as if it did not exist).
pub(crate) async fn managed(tx: &mut store::Tx, id: Id) -> HttpResult<Channel> {
    store::channels::find(&mut **tx, id)
        .await?
        .map(|row| row.channel)
        .filter(|channel| channel.kind != ChannelKind::Dm)
        .ok_or_else(|| HttpError::not_found("channel"))
}

/// Every channel the caller may see (public ones, private ones they belong to; admins
/// see all), with their membership, read marker and unread and mention counts.
#[utoipa::path(get, path = "/api/channels", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<ChannelListEntry>), (status = 401, body = ApiError)))]
async fn list_channels(
    State(state): State<AppState>,
    caller: Caller,
) -> HttpResult<Json<Vec<ChannelListEntry>>> {
    let rows = store::channels::list_visible(state.db.pool(), caller.id(), caller.is_admin()).await?;
    Ok(Json(rows.into_iter().map(VisibleChannel::into_entry).collect()))
}

/// One channel as it appears in the caller's list. A private channel the caller is not
/// in is "not found".
#[utoipa::path(get, path = "/api/channels/{id}", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = ChannelListEntry), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
async fn get_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<ChannelListEntry>> {
    let mut conn = state.db.pool().acquire().await?;
    access::visible_channel(&mut conn, &caller, id).await?;
    let entry = store::channels::find_visible(&mut *conn, caller.id(), caller.is_admin(), id)
        .await?
        .ok_or_else(|| HttpError::not_found("channel"))?;
    Ok(Json(entry.into_entry()))
}

/// Create a channel (admins). A default channel takes every user in; a private one
/// starts with its creator.
#[utoipa::path(post, path = "/api/channels", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    request_body = CreateChannelRequest,
    responses((status = 201, body = Channel), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 409, body = ApiError, description = "the name is taken"), (status = 422, body = ApiError)))]
async fn create_channel(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Json(req): Json<CreateChannelRequest>,
) -> HttpResult<(StatusCode, Json<Channel>)> {
    let now = now_ms();
    let channel = Channel {
        id: state.ids.next(),
        name: channel_name(&req.name)?,
        kind: req.kind,
        topic: topic(req.topic.as_deref())?,
        is_default: req.is_default,
        is_private: req.is_private,
        write_permission: req.write_permission,
        voice_mode: req.voice_mode,
        created_at: now,
    };
    ensure_open_if_default(&channel)?;
    let mut tx = state.db.begin_write().await?;
    if store::channels::name_taken(&mut *tx, &channel.name, None).await? {
        return Err(Unique::ChannelName.into());
    }
    store::channels::insert(&mut *tx, &channel).await?;
    if channel.is_default {
        store::memberships::add_everyone(&mut *tx, channel.id, now).await?;
    } else if channel.is_private {
        store::memberships::add(&mut *tx, channel.id, caller.id(), now).await?;
    }
    let record = store::audit_log::NewEntry {
        target_channel_id: Some(channel.id),
        details: json!({ "channel": &channel }),
        ..audit_log::entry(&state, &caller, AuditAction::ChannelCreated)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    announce::publish(&state, Change::ChannelCreated(channel.clone())).await;
    tracing::info!(channel_id = %channel.id, by = %caller.id(), "channel created");
    Ok((StatusCode::CREATED, Json(channel)))
}

/// Change a channel (admins): fields present are set, `topic: null` clears it. Making a
/// channel default takes every user in; making a voice channel private takes those who
/// are not members out of its room.
#[utoipa::path(patch, path = "/api/channels/{id}", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")), request_body = UpdateChannelRequest,
    responses((status = 200, body = Channel), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 409, body = ApiError, description = "the name is taken"),
        (status = 422, body = ApiError)))]
async fn update_channel(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Path(id): Path<Id>,
    Json(req): Json<UpdateChannelRequest>,
) -> HttpResult<Json<Channel>> {
    let name = req.name.as_deref().map(channel_name).transpose()?;
    let new_topic = req.topic.map(|t| topic(t.as_deref())).transpose()?;
    let mut tx = state.db.begin_write().await?;
    let mut channel = managed(&mut tx, id).await?;
    let before = channel.clone();
    let was_default = channel.is_default;
    let was_private = channel.is_private;
    if let Some(name) = name {
        if store::channels::name_taken(&mut *tx, &name, Some(id)).await? {
            return Err(Unique::ChannelName.into());
        }
        channel.name = name;
    }
    if let Some(new_topic) = new_topic {
        channel.topic = new_topic;
    }
    channel.is_default = req.is_default.unwrap_or(channel.is_default);
    channel.is_private = req.is_private.unwrap_or(channel.is_private);
    channel.write_permission = req.write_permission.unwrap_or(channel.write_permission);
    let was_pinned = channel.voice_mode;
    if let Some(pin) = req.voice_mode {
        channel.voice_mode = pin;
    }
    ensure_open_if_default(&channel)?;
    store::channels::update(&mut *tx, &channel).await?;
    if channel.is_default && !was_default {
        store::memberships::add_everyone(&mut *tx, id, now_ms()).await?;
    }
    let record = store::audit_log::NewEntry {
        target_channel_id: Some(id),
        details: json!({ "before": &before, "after": &channel }),
        ..audit_log::entry(&state, &caller, AuditAction::ChannelUpdated)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    if channel.is_private && !was_private {
        // Participants who are not members lose their place in the room at once.
        voice::room_access::recheck(&state, &channel).await;
    }
    if channel.voice_mode != was_pinned {
        voice::route::repin(&state, &channel).await;
    }
    announce::publish(&state, Change::ChannelUpdated { channel: channel.clone(), was_private }).await;
    Ok(Json(channel))
}

/// Delete a channel with its messages, memberships and read state (admins); a voice
/// channel's room empties at once.
#[utoipa::path(delete, path = "/api/channels/{id}", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn delete_channel(
    State(state): State<AppState>,
    AdminCaller(caller): AdminCaller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Accepted>> {
    let mut tx = state.db.begin_write().await?;
    let channel = managed(&mut tx, id).await?;
    // Who may see it, read while the memberships still exist.
    let audience = access::audience(&mut tx, Scope::of(&channel)).await?;
    store::channels::delete(&mut *tx, id).await?;
    let record = store::audit_log::NewEntry {
        target_channel_id: Some(id),
        details: json!({ "channel": &channel }),
        ..audit_log::entry(&state, &caller, AuditAction::ChannelDeleted)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    voice::room_access::closed(&state, &channel).await;
    announce::publish(&state, Change::ChannelDeleted { channel_id: id, audience }).await;
    tracing::info!(channel_id = %channel.id, name = %channel.name, by = %caller.id(), "channel deleted");
    Ok(Json(Accepted { ok: true }))
}

#[cfg(test)]
mod tests {
    use super::channel_name;

    #[test]
    fn channel_names_are_lower_cased_and_plain() {
        assert_eq!(channel_name("  Dev-Talk_2 ").expect("valid"), "dev-talk_2", "trimmed and lower-cased");
        for bad in ["", "   ", "has space", "#general", "a.b", &"x".repeat(65)] {
            assert!(channel_name(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
