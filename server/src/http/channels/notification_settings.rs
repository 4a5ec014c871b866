//! `PUT /api/channels/{id}/notification_settings`: what the caller hears of a channel.
//!
//! The setting is the caller's own, so it takes only the right to read the channel; a
//! private channel they are not in stays "not found". It is read back in the channel
//! list (`notification_level`, `muted_until`) and where mentions become notifications.

use axum::extract::State;
use cromulent_protocol::channel::{ChannelNotificationSettings, UpdateNotificationSettingsRequest};
use cromulent_protocol::limits::CHANNEL_MUTE_MAX_SECS;
use cromulent_protocol::{ApiError, Id};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access;
use crate::announce::{self, Change};
use crate::auth::Caller;
use crate::http::error::{HttpError, HttpResult};
use crate::http::extract::{Json, Path};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(update_notification_settings))
}

/// When a mute of `secs` from `now` ends; `None` unmutes.
fn muted_until(mute_for_secs: Option<i64>, now: i64) -> HttpResult<Option<i64>> {
    let Some(secs) = mute_for_secs else { return Ok(None) };
    let max = i64::try_from(CHANNEL_MUTE_MAX_SECS).expect("a year of seconds fits");
    if !(1..=max).contains(&secs) {
        return Err(HttpError::invalid(
            "mute_for_secs",
            format!("mute for 1 to {CHANNEL_MUTE_MAX_SECS} seconds; for longer choose nothing"),
        ));
    }
    // At most a year in milliseconds: far from overflowing.
    Ok(Some(now + secs * 1000))
}

/// Set the caller's notification level for a channel they may read, and mute it for a
/// while (or unmute it). Replaces what was set before.
#[utoipa::path(put, path = "/api/channels/{id}/notification_settings", tag = "channels",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")), request_body = UpdateNotificationSettingsRequest,
    responses((status = 200, body = ChannelNotificationSettings), (status = 400, body = ApiError),
        (status = 404, body = ApiError), (status = 422, body = ApiError)))]
async fn update_notification_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
    Json(req): Json<UpdateNotificationSettingsRequest>,
) -> HttpResult<Json<ChannelNotificationSettings>> {
    let now = now_ms();
    let settings = ChannelNotificationSettings {
        channel_id: id,
        level: req.level,
        muted_until: muted_until(req.mute_for_secs, now)?,
    };
    let mut tx = state.db.begin_write().await?;
    access::visible_channel(&mut tx, &caller, id).await?;
    store::notification_settings::put(&mut *tx, caller.id(), &settings, now).await?;
    tx.commit().await?;
    // The caller's other devices show the new level and mute without reloading.
    let change = Change::NotificationSettingsChanged { user_id: caller.id(), settings: settings.clone() };
    announce::publish(&state, change).await;
    tracing::debug!(channel_id = %id, user_id = %caller.id(), level = ?settings.level, "notification settings changed");
    Ok(Json(settings))
}

#[cfg(test)]
mod tests {
    use super::muted_until;
    use cromulent_protocol::limits::CHANNEL_MUTE_MAX_SECS;

    #[test]
    fn a_mute_ends_after_its_duration_and_stays_within_the_limit() {
        assert_eq!(muted_until(None, 5).expect("unmute"), None, "no duration unmutes");
        assert_eq!(
            muted_until(Some(60), 1_000).expect("a minute"),
            Some(61_000),
            "durations are seconds, times ms"
        );
        let max = i64::try_from(CHANNEL_MUTE_MAX_SECS).expect("fits");
        assert!(muted_until(Some(max), 0).is_ok(), "the limit itself is allowed");
        for bad in [0, -5, max + 1, i64::MAX] {
            assert!(muted_until(Some(bad), 0).is_err(), "{bad} s must be refused");
        }
    }
}
