//! Invites and registration modes end to end: who may create, list and revoke invites,
//! what each mode lets in, uses counted atomically (racers for the last use: one wins),
//! and the old on/off registration flag carried into the new modes.

use std::borrow::Cow;

use cromulent_protocol::auth::RegisterResponse;
use cromulent_protocol::feature_flag::{FeatureFlags, RegistrationMode};
use cromulent_protocol::invite::{CreatedInvite, Invite, RegistrationInfo};
use cromulent_protocol::ErrorCode;
use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::migrate::Migrator;
use sqlx::{Executor, Row};

use crate::db_test;
use crate::harness::{Database, PgDatabase, Reply, TempDir, TestServer, TestUser, PASSWORD};

const HOUR: i64 = 3600;

async fn register(srv: &TestServer, username: &str, code: Option<&str>) -> Reply {
    let body = json!({"email": format!("{username}@example.test"), "username": username,
                      "password": PASSWORD, "invite_code": code});
    srv.anonymous(Method::POST, "/api/auth/register", Some(body)).await
}

async fn set_flags(srv: &TestServer, admin: &TestUser, change: Value) -> FeatureFlags {
    srv.patch("/api/admin/feature_flags", admin, change).await.ok()
}

async fn create(srv: &TestServer, user: &TestUser, max_uses: i64, expires_in_secs: i64) -> Reply {
    srv.post("/api/invites", user, json!({"max_uses": max_uses, "expires_in_secs": expires_in_secs})).await
}

async fn user_count(srv: &TestServer) -> i64 {
    let count = sqlx::query("SELECT COUNT(*) AS n FROM users").fetch_one(srv.state.db.pool()).await;
    count.expect("count users").try_get("n").expect("n")
}

db_test!(
    async fn admins_create_list_and_revoke_invites(srv) {
        let ann = srv.user("ann").await;
        let flags = set_flags(&srv, &ann, json!({"registration": "invite_only"})).await;
        assert_eq!(flags.registration, RegistrationMode::InviteOnly, "the admin's choice is in force");
        let info: RegistrationInfo = srv.anonymous(Method::GET, "/api/registration", None).await.ok();
        assert_eq!(info.mode, RegistrationMode::InviteOnly, "signed-out clients learn they need an invite");

        let made = create(&srv, &ann, 2, HOUR).await;
        assert_eq!(made.status, StatusCode::CREATED, "an admin may invite: {}", made.body);
        let made: CreatedInvite = made.json();
        assert_eq!(made.url, format!("{}/invite/{}", srv.base, made.code), "the link opens the web client's invite route");
        assert_eq!(made.invite.code_prefix, made.code[..6], "the prefix tells invites apart");
        assert_eq!((made.invite.uses, made.invite.max_uses), (0, 2), "a new invite is unused");
        assert_eq!(made.invite.created_by_username, "ann", "the list shows who invited");

        register(&srv, "bob", None).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        register(&srv, "bob", Some("not-a-code")).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        let bob = register(&srv, "bob", Some(&made.code)).await;
        assert_eq!(bob.status, StatusCode::CREATED, "a live code lets one person in: {}", bob.body);
        let listed: Vec<Invite> = srv.get("/api/invites", &ann).await.ok();
        assert_eq!(listed.len(), 1, "one invite was made");
        assert_eq!(listed[0].uses, 1, "bob's registration spent one use");

        let revoked: Invite = srv.delete(&format!("/api/invites/{}", made.invite.id), &ann).await.ok();
        assert!(revoked.revoked_at.is_some(), "the answer shows the invite ended");
        let again: Invite = srv.delete(&format!("/api/invites/{}", made.invite.id), &ann).await.ok();
        assert_eq!(again.revoked_at, revoked.revoked_at, "revoking twice keeps the first time");
        register(&srv, "carol", Some(&made.code)).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        assert_eq!(user_count(&srv).await, 2, "refused registrations create nothing: only ann and bob exist");
        let stored: String = sqlx::query("SELECT code_digest FROM invites")
            .fetch_one(srv.state.db.pool())
            .await
            .expect("the invite row")
            .try_get("code_digest")
            .expect("digest");
        assert_ne!(stored, made.code, "only the code's digest is stored, so a leaked table lets nobody in");
    }
);

db_test!(
    async fn invites_refuse_bad_input(srv) {
        let ann = srv.user("ann").await;
        for max_uses in [0, -1, 1001] {
            let err = create(&srv, &ann, max_uses, HOUR).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some("max_uses"), "the form can point at the field");
        }
        for secs in [-5, 0, 59, 30 * 24 * HOUR + 1, i64::MAX] {
            let err = create(&srv, &ann, 1, secs).await.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
            assert_eq!(err.field.as_deref(), Some("expires_in_secs"), "the form can point at the field");
        }
        let bodies = [json!({"max_uses": 1}), json!({"max_uses": "1", "expires_in_secs": 60}),
                      json!({"max_uses": 1e30, "expires_in_secs": 60}), json!([1, 60])];
        for body in bodies {
            srv.post("/api/invites", &ann, body).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        }
        let token = Some(ann.access_token.as_str());
        let garbage = srv.call_raw(Method::POST, "/api/invites", token, "application/json", b"{max_uses".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.delete("/api/invites/123", &ann).await.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        srv.delete("/api/invites/abc", &ann).await.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        srv.anonymous(Method::POST, "/api/invites", Some(json!({"max_uses": 1, "expires_in_secs": 60})))
            .await
            .error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
        let listed: Vec<Invite> = srv.get("/api/invites", &ann).await.ok();
        assert!(listed.is_empty(), "no refused request made an invite");
        let edge = create(&srv, &ann, 1000, 30 * 24 * HOUR).await;
        assert_eq!(edge.status, StatusCode::CREATED, "the documented maxima themselves are allowed: {}", edge.body);
    }
);

db_test!(
    async fn members_invite_only_when_admins_allow_and_revoke_only_their_own(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        create(&srv, &bob, 1, HOUR).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.get("/api/invites", &bob).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        srv.patch("/api/admin/feature_flags", &bob, json!({"member_invites": true}))
            .await
            .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);

        let flags = set_flags(&srv, &ann, json!({"member_invites": true})).await;
        assert!(flags.member_invites, "the admin's choice is in force");
        let bobs: CreatedInvite = create(&srv, &bob, 1, HOUR).await.ok();
        let carols: CreatedInvite = create(&srv, &carol, 1, HOUR).await.ok();
        let seen: Vec<Invite> = srv.get("/api/invites", &bob).await.ok();
        assert_eq!(seen.iter().map(|i| i.id).collect::<Vec<_>>(), [bobs.invite.id], "a member sees only their own invites");
        let all: Vec<Invite> = srv.get("/api/invites", &ann).await.ok();
        assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), [carols.invite.id, bobs.invite.id], "admins see every invite, newest first");

        srv.delete(&format!("/api/invites/{}", bobs.invite.id), &carol).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
        let still: Vec<Invite> = srv.get("/api/invites", &bob).await.ok();
        assert!(still[0].revoked_at.is_none(), "a refused revoke leaves the invite working");
        let own: Invite = srv.delete(&format!("/api/invites/{}", bobs.invite.id), &bob).await.ok();
        assert!(own.revoked_at.is_some(), "a creator may revoke their own invite");
        let by_admin: Invite = srv.delete(&format!("/api/invites/{}", carols.invite.id), &ann).await.ok();
        assert!(by_admin.revoked_at.is_some(), "an admin may revoke anyone's invite");
    }
);

db_test!(
    async fn used_up_and_expired_invites_let_nobody_in(srv) {
        let ann = srv.user("ann").await;
        set_flags(&srv, &ann, json!({"registration": "invite_only"})).await;
        let once: CreatedInvite = create(&srv, &ann, 1, HOUR).await.ok();
        assert_eq!(register(&srv, "bob", Some(&once.code)).await.status, StatusCode::CREATED, "the one use is free");
        register(&srv, "carol", Some(&once.code)).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);

        let late: CreatedInvite = create(&srv, &ann, 5, HOUR).await.ok();
        sqlx::query("UPDATE invites SET expires_at = 1").execute(srv.state.db.pool()).await.expect("age the invites");
        register(&srv, "carol", Some(&late.code)).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        assert_eq!(user_count(&srv).await, 2, "only ann and bob got in");
    }
);

db_test!(
    async fn racing_for_the_last_use_one_wins(srv) {
        let ann = srv.user("ann").await;
        set_flags(&srv, &ann, json!({"registration": "invite_only"})).await;
        let invite: CreatedInvite = create(&srv, &ann, 1, HOUR).await.ok();
        let racers = (0..6).map(|i| {
            let (srv, code) = (&srv, invite.code.clone());
            async move { register(srv, &format!("racer{i}"), Some(&code)).await }
        });
        let replies = join_all(racers).await;
        let won = replies.iter().filter(|r| r.status == StatusCode::CREATED).count();
        assert_eq!(won, 1, "one use: exactly one racer registers");
        for lost in replies.iter().filter(|r| r.status != StatusCode::CREATED) {
            lost.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        }
        assert_eq!(user_count(&srv).await, 2, "the losers created nothing");
        let listed: Vec<Invite> = srv.get("/api/invites", &ann).await.ok();
        assert_eq!(listed[0].uses, 1, "the count matches the accounts made");
    }
);

db_test!(
    async fn modes_decide_who_registers(srv) {
        sqlx::query("INSERT INTO server_settings (name, value, updated_at) VALUES ('registration', 'closed', 0)")
            .execute(srv.state.db.pool())
            .await
            .expect("close registration before anyone exists");
        let first = register(&srv, "ann", None).await;
        assert_eq!(first.status, StatusCode::CREATED, "the first account always gets in, to run the server: {}", first.body);
        let id = first.json::<RegisterResponse>().user.expect("no confirmation on test servers").user.id;
        let ann = srv.login("ann@example.test", id, "ann").await;
        let invite: CreatedInvite = create(&srv, &ann, 3, HOUR).await.ok();
        register(&srv, "bob", Some(&invite.code)).await.error(StatusCode::FORBIDDEN, ErrorCode::RegistrationClosed);

        set_flags(&srv, &ann, json!({"registration": "open"})).await;
        assert_eq!(register(&srv, "bob", None).await.status, StatusCode::CREATED, "open needs no invite");
        assert_eq!(register(&srv, "carol", Some(&invite.code)).await.status, StatusCode::CREATED, "a code still works");
        register(&srv, "dave", Some("stale")).await.error(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid);
        let listed: Vec<Invite> = srv.get("/api/invites", &ann).await.ok();
        assert_eq!(listed[0].uses, 1, "in open mode a code sent is still counted");
    }
);

/// Applies migrations up to 0003, stores the old on/off flag, then applies the rest.
async fn old_flag_becomes_a_mode(database: Database) {
    let dir = TempDir::new();
    let pg = match database {
        Database::Sqlite => None,
        Database::Postgres => Some(PgDatabase::create().await),
    };
    let (url, folder) = match &pg {
        None => (format!("sqlite://{}?mode=rwc", dir.0.join("old.db").display()), "sqlite"),
        Some(pg) => (pg.url.clone(), "postgres"),
    };
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations").join(folder);
    let all = Migrator::new(path.clone()).await.expect("migrations");
    let mut before = Migrator::new(path).await.expect("migrations");
    before.migrations = Cow::Owned(all.migrations.iter().filter(|m| m.version <= 3).cloned().collect());
    before.run(&pool).await.expect("migrate to 0003");
    pool.execute("INSERT INTO feature_flags (name, enabled, updated_at) VALUES ('registration', 0, 5), ('voice', 0, 5)")
        .await
        .expect("an old server's choices");
    all.run(&pool).await.expect("migrate to the newest");
    let defaults = cromulent_server::store::feature_flags::defaults(false);
    let flags = cromulent_server::store::feature_flags::load(&pool, defaults).await.expect("load");
    assert_eq!(flags.registration, RegistrationMode::Closed, "registration switched off stays closed");
    assert!(!flags.voice, "the other flags are untouched");
    pool.close().await;
}

#[tokio::test]
async fn the_old_registration_flag_becomes_a_mode_on_sqlite() {
    old_flag_becomes_a_mode(Database::Sqlite).await;
}

#[tokio::test]
async fn the_old_registration_flag_becomes_a_mode_on_postgres() {
    old_flag_becomes_a_mode(Database::Postgres).await;
}
