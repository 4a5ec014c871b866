//! Per-channel notification settings: each user's level and mute, listed with the
//! channel, respected where mentions become notifications, and refused for channels the
//! user cannot read.

use std::time::Duration;

use cromulent_protocol::channel::{
    ChannelListEntry, ChannelNotificationSettings, NotificationLevel, WritePermission,
};
use cromulent_protocol::event::Event;
use cromulent_protocol::{ErrorCode, Id};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::harness::{Reply, TestServer, TestUser};
use crate::messages::{channel_id, make_channel, send};
use crate::notifications::inbox;

fn path(channel: Id) -> String {
    format!("/api/channels/{channel}/notification_settings")
}

async fn put_settings(srv: &TestServer, user: &TestUser, channel: Id, body: Value) -> Reply {
    srv.call(Method::PUT, &path(channel), Some(&user.access_token), Some(body)).await
}

async fn entry(srv: &TestServer, user: &TestUser, channel: Id) -> ChannelListEntry {
    srv.get(&format!("/api/channels/{channel}"), user).await.ok()
}

/// How many notifications `user` holds for messages in `channel`.
async fn notified_in(srv: &TestServer, user: &TestUser, channel: Id) -> usize {
    inbox(srv, user, "").await.iter().filter(|n| n.channel_id == channel).count()
}

db_test!(
    async fn levels_and_mutes_decide_who_is_notified(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let fresh = entry(&srv, &bob, general).await;
        assert_eq!(
            (fresh.notification_level, fresh.muted_until),
            (NotificationLevel::Mentions, None),
            "a channel nobody configured notifies mentions and is not muted"
        );

        let set: ChannelNotificationSettings =
            put_settings(&srv, &bob, general, json!({"level": "nothing"})).await.ok();
        assert_eq!((set.channel_id, set.level, set.muted_until), (general, NotificationLevel::Nothing, None));
        assert_eq!(entry(&srv, &bob, general).await.notification_level, NotificationLevel::Nothing, "the list shows it");
        send(&srv, &ann, general, "@bob are you there? @everyone too").await;
        assert_eq!(notified_in(&srv, &bob, general).await, 0, "level nothing: a mention makes no notification");
        let listed = entry(&srv, &bob, general).await;
        assert_eq!((listed.unread_count, listed.mention_count), (1, 0), "the message is unread but no mention counts");

        let before = cromulent_server::ids::now_ms();
        let set: ChannelNotificationSettings =
            put_settings(&srv, &bob, general, json!({"level": "mentions", "mute_for_secs": 3600})).await.ok();
        let until = set.muted_until.expect("muted");
        assert!(until >= before + 3_600_000 && until <= cromulent_server::ids::now_ms() + 3_600_000, "an hour from now: {until}");
        assert_eq!(entry(&srv, &bob, general).await.muted_until, Some(until), "the list shows the mute");
        send(&srv, &ann, general, "@bob still?").await;
        assert_eq!(notified_in(&srv, &bob, general).await, 0, "a muted channel makes no notification");

        put_settings(&srv, &bob, general, json!({"level": "mentions"})).await.ok::<Value>();
        assert_eq!(entry(&srv, &bob, general).await.muted_until, None, "no duration unmutes");
        send(&srv, &ann, general, "@bob now?").await;
        assert_eq!(notified_in(&srv, &bob, general).await, 1, "unmuted, mentions notify again");
        put_settings(&srv, &bob, general, json!({"level": "all"})).await.ok::<Value>();
        send(&srv, &ann, general, "@bob and with all?").await;
        assert_eq!(notified_in(&srv, &bob, general).await, 2, "level all includes mentions");
        assert_eq!(entry(&srv, &ann, general).await.notification_level, NotificationLevel::Mentions, "settings are per user");
    }
);

db_test!(
    async fn a_mute_that_ran_out_is_no_mute(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let lapsed = ChannelNotificationSettings {
            channel_id: general,
            level: NotificationLevel::Mentions,
            muted_until: Some(cromulent_server::ids::now_ms() - 1),
        };
        cromulent_server::store::notification_settings::put(srv.state.db.pool(), bob.id, &lapsed, 1)
            .await
            .expect("store the setting");
        assert_eq!(entry(&srv, &bob, general).await.muted_until, None, "an ended mute is not listed");
        send(&srv, &ann, general, "@bob back?").await;
        assert_eq!(notified_in(&srv, &bob, general).await, 1, "an ended mute silences nothing");
    }
);

db_test!(
    async fn notification_settings_refuse_bad_input_and_unreadable_channels(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let staff = make_channel(&srv, "staff", true, WritePermission::Everyone, &[&ann, &carol]).await;

        put_settings(&srv, &bob, staff, json!({"level": "nothing"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        put_settings(&srv, &bob, Id(424242), json!({"level": "nothing"}))
            .await
            .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let stored: Option<i64> = sqlx::query_scalar("SELECT user_id FROM channel_notification_settings WHERE user_id = $1")
            .bind(bob.id.0)
            .fetch_optional(srv.state.db.pool())
            .await
            .expect("query");
        assert_eq!(stored, None, "a refused setting is not stored");
        send(&srv, &ann, staff, "@carol hi").await;
        assert_eq!(notified_in(&srv, &carol, staff).await, 1, "members keep their default");

        put_settings(&srv, &carol, staff, json!({"level": "nothing"})).await.ok::<Value>();
        for (body, status, code) in [
            (json!({"level": "loud"}), StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest),
            (json!({}), StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest),
            (json!({"level": "all", "mute_for_secs": 0}), StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed),
            (json!({"level": "all", "mute_for_secs": -5}), StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed),
            (json!({"level": "all", "mute_for_secs": 1.5}), StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest),
            (
                json!({"level": "all", "mute_for_secs": cromulent_protocol::limits::CHANNEL_MUTE_MAX_SECS + 1}),
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::ValidationFailed,
            ),
        ] {
            put_settings(&srv, &carol, staff, body.clone()).await.error(status, code);
            assert_eq!(
                entry(&srv, &carol, staff).await.notification_level,
                NotificationLevel::Nothing,
                "{body} must change nothing"
            );
        }
        let whole: ChannelNotificationSettings =
            put_settings(&srv, &carol, staff, json!({"level": "nothing", "mute_for_secs": 60.0})).await.ok();
        assert!(whole.muted_until.is_some(), "60.0 is the whole number 60, as JSON allows");
        let anonymous = srv.call(Method::PUT, &path(staff), None, Some(json!({"level": "all"}))).await;
        anonymous.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);

        // Leaving a private channel ends the right to configure it.
        cromulent_server::store::memberships::remove(srv.state.db.pool(), staff, carol.id).await.expect("leave");
        put_settings(&srv, &carol, staff, json!({"level": "all"})).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    }
);

db_test!(
    async fn a_change_reaches_the_users_other_devices_and_nobody_else(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let bob_phone = srv.login(&bob.email, bob.id, "bob").await;
        let general = channel_id(&srv, "general").await;
        let mut phone = srv.connect(&bob_phone).await;
        let mut ann_gw = srv.connect(&ann).await;

        put_settings(&srv, &bob, general, json!({"level": "all", "mute_for_secs": 600})).await.ok::<Value>();
        let event = phone
            .wait_for_event(|e| matches!(e, Event::NotificationSettingsUpdate { .. }), WAIT)
            .await;
        let Event::NotificationSettingsUpdate { settings } = event else { unreachable!("matched above") };
        assert_eq!(
            (settings.channel_id, settings.level),
            (general, NotificationLevel::All),
            "the phone hears the level chosen on the desktop"
        );
        assert!(settings.muted_until.is_some(), "and the mute with its end");
        ann_gw
            .expect_no_event(|e| matches!(e, Event::NotificationSettingsUpdate { .. }), Duration::from_millis(400))
            .await;

        // A refused change announces nothing.
        put_settings(&srv, &bob, general, json!({"level": "all", "mute_for_secs": 0}))
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        phone
            .expect_no_event(|e| matches!(e, Event::NotificationSettingsUpdate { .. }), Duration::from_millis(400))
            .await;
    }
);
