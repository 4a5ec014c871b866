//! Channel memberships: join and leave by the caller, add and remove by an admin, and the
//! member list.
//!
//! Private channels are joined only by an admin adding the member; to anyone else they
//! do not exist (`404`). Leaving a private voice channel, or being removed from it, also
//! ends one's place in its room. Handlers know after the commit whether the membership
//! really changed, which is what the gateway announces (member_join / member_leave).

use axum::extract::State;
use cromulent_protocol::auth::Accepted;
use cromulent_protocol::channel::{Channel, ChannelMember, ListMembersQuery};
use cromulent_protocol::limits::{MEMBER_PAGE_DEFAULT, MEMBER_PAGE_MAX};
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::{ApiError, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access;
use crate::announce::{self, Change};
use crate::auth::{AdminCaller, Caller};
use crate::http::audit_log;
use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{page_limit, Json, Path, Query};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::{self, Tx};
use crate::voice;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(join_channel))
        .routes(routes!(leave_channel))
        .routes(routes!(add_member, remove_member))
}

/// Adds `user_id` and returns the membership; `bool` says whether it is new.
async fn add(tx: &mut Tx, channel_id: Id, user_id: Id) -> HttpResult<(ChannelMember, bool)> {
    let added = store::memberships::add(&mut **tx, channel_id, user_id, now_ms()).await?;
    let joined_at = store::memberships::joined_at(&mut **tx, channel_id, user_id)
        .await?
        .ok_or_else(HttpError::internal)?;
    Ok((ChannelMember { user_id, joined_at }, added))
}

/// One page of the members of a channel the caller may see, by user id; a page shorter
/// than `limit` is the last. Who they are and whether they are online come from the
/// gateway's `ready` snapshot and its events.
#[utoipa::path(get, path = "/api/channels/{id}/members", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ListMembersQuery),
    responses((status = 200, body = Vec<ChannelMember>), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 422, body = ApiError, description = "`limit` out of range")))]
async fn list_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
    Query(query): Query<ListMembersQuery>,
) -> HttpResult<Json<Vec<ChannelMember>>> {
    let limit = page_limit(query.limit, MEMBER_PAGE_DEFAULT, MEMBER_PAGE_MAX)?;
    let mut conn = state.db.pool().acquire().await?;
    access::visible_channel(&mut conn, &caller, id).await?;
    let members = store::memberships::page(&mut *conn, id, query.after, limit).await?;
    Ok(Json(members.into_iter().map(|(user_id, joined_at)| ChannelMember { user_id, joined_at }).collect()))
}

/// Join a public channel. Joining twice is not an error; a private channel is joined
/// only by an admin adding you.
#[utoipa::path(post, path = "/api/channels/{id}/join", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = ChannelMember), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn join_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<ChannelMember>> {
    let mut tx = state.db.begin_write().await?;
    let channel = access::visible_channel(&mut tx, &caller, id).await?;
    if channel.channel().is_private && !channel.is_member() {
        // Only admins get here: they see every private channel but join through
        // `PUT /api/channels/{id}/members/{user_id}` like anyone they add.
        return Err(HttpError::forbidden("private channels are joined by an admin adding the member"));
    }
    let (member, added) = add(&mut tx, id, caller.id()).await?;
    tx.commit().await?;
    if added {
        announce::publish(
            &state,
            Change::MemberJoined { channel: channel.channel().clone(), user_id: member.user_id },
        )
        .await;
    }
    tracing::debug!(channel_id = %id, user_id = %member.user_id, added, "joined channel");
    Ok(Json(member))
}

/// Leave a channel the caller may see. Leaving one you are not in is not an error.
#[utoipa::path(post, path = "/api/channels/{id}/leave", tag = "channels", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    responses((status = 200, body = Accepted), (status = 400, body = ApiError),
        (status = 403, body = ApiError, description = "a direct message cannot be left"), (status = 404, body = ApiError)))]
async fn leave_channel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Accepted>> {
    let mut tx = state.db.begin_write().await?;
    let channel = access::visible_channel(&mut tx, &caller, id).await?;
    if channel.is_dm() {
        // Its participants are what makes it this conversation (the same people always
        // find it again); to stop hearing from it, mute it or block someone.
        return Err(HttpError::forbidden("a direct message cannot be left; mute it instead"));
    }
    let removed = store::memberships::remove(&mut *tx, id, caller.id()).await?;
    tx.commit().await?;
    if removed {
        voice::room_access::recheck(&state, channel.channel()).await;
        announce::publish(
            &state,
            Change::MemberLeft { channel: channel.channel().clone(), user_id: caller.id() },
        )
        .await;
    }
    tracing::debug!(channel_id = %id, user_id = %caller.id(), removed, "left channel");
    Ok(Json(Accepted { ok: true }))
}

/// Records an admin's change to a channel's members (a private channel's are its access
/// list, so who changed them matters).
async fn audit(
    tx: &mut Tx,
    state: &AppState,
    admin: &Caller,
    action: AuditAction,
    channel: &Channel,
    user_id: Id,
) -> HttpResult<()> {
    let record = store::audit_log::NewEntry {
        target_user_id: Some(user_id),
        target_channel_id: Some(channel.id),
        details: json!({ "channel_name": &channel.name, "is_private": channel.is_private }),
        ..audit_log::entry(state, admin, action)
    };
    store::audit_log::record(&mut **tx, record).await?;
    Ok(())
}

/// The channel and user an admin names, or `404` for either (and for a direct message or
/// a deleted account).
async fn channel_and_user(tx: &mut Tx, channel_id: Id, user_id: Id) -> HttpResult<Channel> {
    let channel = super::managed(tx, channel_id).await?;
    store::users::find_by_id(&mut **tx, user_id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| HttpError::not_found("user"))?;
    Ok(channel)
}

/// Add a user to any channel, private ones included (admins). Adding a member again is
/// not an error.
#[utoipa::path(put, path = "/api/channels/{id}/members/{user_id}", tag = "channels",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ("user_id" = String, Path, description = "user id")),
    responses((status = 200, body = ChannelMember), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn add_member(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path((id, user_id)): Path<(Id, Id)>,
) -> HttpResult<Json<ChannelMember>> {
    let mut tx = state.db.begin_write().await?;
    let channel = channel_and_user(&mut tx, id, user_id).await?;
    let (member, added) = add(&mut tx, id, user_id).await?;
    if added {
        audit(&mut tx, &state, &admin, AuditAction::ChannelMemberAdded, &channel, user_id).await?;
    }
    tx.commit().await?;
    if added {
        announce::publish(&state, Change::MemberJoined { channel: channel.clone(), user_id }).await;
    }
    tracing::debug!(channel_id = %id, user_id = %user_id, added, "member added");
    Ok(Json(member))
}

/// Remove a user from a channel (admins). `404` when they are not a member.
#[utoipa::path(delete, path = "/api/channels/{id}/members/{user_id}", tag = "channels",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id"), ("user_id" = String, Path, description = "user id")),
    responses((status = 200, body = Accepted), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError)))]
async fn remove_member(
    State(state): State<AppState>,
    AdminCaller(admin): AdminCaller,
    Path((id, user_id)): Path<(Id, Id)>,
) -> HttpResult<Json<Accepted>> {
    let mut tx = state.db.begin_write().await?;
    let channel = channel_and_user(&mut tx, id, user_id).await?;
    if !store::memberships::remove(&mut *tx, id, user_id).await? {
        return Err(HttpError::not_found("membership"));
    }
    audit(&mut tx, &state, &admin, AuditAction::ChannelMemberRemoved, &channel, user_id).await?;
    tx.commit().await?;
    voice::room_access::recheck(&state, &channel).await;
    announce::publish(&state, Change::MemberLeft { channel: channel.clone(), user_id }).await;
    tracing::debug!(channel_id = %id, user_id = %user_id, "member removed");
    Ok(Json(Accepted { ok: true }))
}
