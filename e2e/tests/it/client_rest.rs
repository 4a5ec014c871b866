//! The native REST client against a real server: happy paths and typed refusals, on
//! SQLite and PostgreSQL.

use cromulent_client::api::{ApiError, Client, LoginRequest, TokenSource};
use cromulent_client::tokens::Secret;
use cromulent_e2e::{client_for, Database, TestServer, PASSWORD};
use cromulent_protocol::channel::{ChannelKind, CreateChannelRequest, WritePermission};
use cromulent_protocol::message::{ListMessagesQuery, SendMessageRequest};
use cromulent_protocol::{ErrorCode, Id};

async fn general(client: &Client) -> Id {
    let channels = client.channels().await.expect("channels");
    channels.iter().find(|c| c.channel.name == "general").expect("the seeded #general").channel.id
}

async fn login_send_and_page(db: Database) {
    let server = TestServer::start(db).await;
    let ada = server.user("ada").await;
    let anonymous = Client::new(&server.base).expect("address");
    let login = anonymous
        .login(&LoginRequest::new(&ada.email, Secret::from(PASSWORD), "e2e host"))
        .await
        .expect("the right password logs in");
    assert_eq!(login.user.user.id, ada.id, "the login is ada's");
    let client = anonymous.with_tokens(TokenSource::new(&anonymous, login.refresh_token, None));
    assert_eq!(client.me().await.expect("me").email, ada.email, "the access token is ada's");

    let channel = general(&client).await;
    let mut sent = Vec::new();
    for n in 0..5 {
        sent.push(client.send_message(channel, &format!("message {n}")).await.expect("send").id);
    }
    let newest = client
        .messages(channel, &ListMessagesQuery { limit: Some(2), ..Default::default() })
        .await
        .expect("newest page");
    assert_eq!(newest.iter().map(|m| m.id).collect::<Vec<_>>(), vec![sent[4], sent[3]], "newest first");
    let older = client
        .messages(
            channel,
            &ListMessagesQuery { before: Some(sent[3]), limit: Some(10), ..Default::default() },
        )
        .await
        .expect("older page");
    assert_eq!(
        older.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![sent[2], sent[1], sent[0]],
        "paging back with `before` continues exactly where the first page ended"
    );

    let req = SendMessageRequest::new("once", Some("retry-nonce-1".into()));
    let first = client.send_message_with(channel, &req).await.expect("first send");
    let retry = client.send_message_with(channel, &req).await.expect("retried send");
    assert_eq!(first.id, retry.id, "a retry with the same nonce must return the stored message, not a copy");

    let ice = client.ice_servers().await.expect("ice servers");
    assert!(!ice.ice_servers.is_empty(), "the server hands out at least its STUN address");
}

#[tokio::test]
async fn login_send_and_page_sqlite() {
    login_send_and_page(Database::Sqlite).await;
}

#[tokio::test]
async fn login_send_and_page_postgres() {
    login_send_and_page(Database::Postgres).await;
}

async fn refusals_carry_the_servers_code(db: Database) {
    let server = TestServer::start(db).await;
    let admin = server.user("admin").await;
    let bob = server.user("bob").await;
    let anonymous = Client::new(&server.base).expect("address");

    let wrong =
        anonymous.login(&LoginRequest::new(&bob.email, Secret::from("not the password"), "e2e")).await;
    let error = wrong.expect_err("a wrong password must not log in");
    assert_eq!(error.code(), Some(ErrorCode::InvalidCredentials), "the code says why: {error}");
    assert_eq!(error.status(), Some(401));

    let bob_client = client_for(&server, &bob).await;
    let unknown = bob_client.send_message(Id(424242), "hello?").await.expect_err("no such channel");
    assert_eq!(unknown.code(), Some(ErrorCode::NotFound), "unknown channel: {unknown}");

    let create = CreateChannelRequest {
        name: "bobs-own".into(),
        kind: ChannelKind::Text,
        topic: None,
        is_default: false,
        is_private: false,
        write_permission: WritePermission::Everyone,
        voice_mode: None,
    };
    let forbidden = bob_client.create_channel(&create).await.expect_err("members cannot create channels");
    assert_eq!(forbidden.code(), Some(ErrorCode::Forbidden), "no rights: {forbidden}");
    assert_eq!(forbidden.status(), Some(403));
    let admin_client = client_for(&server, &admin).await;
    admin_client.create_channel(&create).await.expect("the admin may");

    assert!(
        matches!(anonymous.me().await, Err(ApiError::NotLoggedIn)),
        "a client without tokens refuses before asking the server"
    );
}

#[tokio::test]
async fn refusals_carry_the_servers_code_sqlite() {
    refusals_carry_the_servers_code(Database::Sqlite).await;
}

#[tokio::test]
async fn refusals_carry_the_servers_code_postgres() {
    refusals_carry_the_servers_code(Database::Postgres).await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_ends_the_login() {
    let server = TestServer::start(Database::Sqlite).await;
    let ada = server.user("ada").await;
    let anonymous = Client::new(&server.base).expect("address");
    let original = Secret::from(server.refresh_token(&ada).await);
    let tokens = TokenSource::new(&anonymous, original.clone(), None);
    let client = anonymous.with_tokens(tokens.clone());

    let access = tokens.access_token().await.expect("first access token");
    client.me().await.expect("works with it");
    assert_ne!(
        tokens.refresh_token().await,
        original,
        "the refresh spent the original and kept its successor"
    );
    tokens.invalidate(&access).await;
    client.me().await.expect("a forgotten access token is refreshed transparently");

    let replay = anonymous.refresh(&original).await.expect_err("a spent refresh token is refused");
    assert_eq!(replay.code(), Some(ErrorCode::TokenReused), "{replay}");
    assert!(replay.is_login_lost(), "a replayed token means logging in again");
    tokens.invalidate(&tokens.access_token().await.expect("still cached")).await;
    let after = client.me().await.expect_err("the replay revoked the whole login, successor included");
    assert!(after.is_login_lost(), "the client must tell the user to log in again: {after}");
}
