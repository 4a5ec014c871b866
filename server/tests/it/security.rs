//! Attacks from the security review, each shown refused: spent tokens as cookies, the
//! dev mailbox, throttles raced by concurrency, forwarded addresses, write floods, mass
//! pings, edits past the posting rules, account enumeration, the first-admin race,
//! notification excerpts, `/metrics`, HSTS and lost refresh answers.

mod abuse;
mod accounts;

use cromulent_protocol::auth::{LoginResponse, RefreshResponse};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{Reply, TestServer, PASSWORD};

async fn login(srv: &TestServer, email: &str, password: &str) -> Reply {
    srv.anonymous(Method::POST, "/api/auth/login", Some(json!({"email": email, "password": password}))).await
}

async fn refresh(srv: &TestServer, token: &str) -> Reply {
    srv.anonymous(Method::POST, "/api/auth/refresh", Some(json!({"refresh_token": token}))).await
}

/// A GET with `Cookie: cromulent_session=<value>` and nothing else.
async fn with_cookie(srv: &TestServer, path: &str, value: &str) -> StatusCode {
    let resp = srv
        .http
        .get(srv.url(path))
        .header("cookie", format!("cromulent_session={value}"))
        .send()
        .await
        .expect("request reaches the server");
    resp.status()
}

/// Signs in as a browser on our own origin, in a cookie jar: the jar and the
/// `Set-Cookie` header the server answered with.
pub async fn browser_session(srv: &TestServer, email: &str) -> (reqwest::Client, String) {
    let jar = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let opened = jar
        .post(srv.url("/api/auth/session"))
        .header("origin", &srv.base)
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert_eq!(opened.status(), StatusCode::OK);
    let set_cookie = opened.headers()["set-cookie"].to_str().expect("ascii").to_owned();
    (jar, set_cookie)
}

/// Opens a gateway socket carrying a session cookie and identifies without a token;
/// true when the server answers `ready`.
async fn gateway_accepts_cookie(srv: &TestServer, value: &str) -> bool {
    use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = format!("{}/api/gateway", srv.base.replace("http://", "ws://"));
    let mut request = url.into_client_request().expect("valid url");
    let cookie = format!("cromulent_session={value}").parse().expect("header value");
    request.headers_mut().insert("cookie", cookie);
    request.headers_mut().insert("origin", srv.base.parse().expect("header value"));
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(request).await else { return false };
    let hello = crate::gateway_client::next_frame(&mut ws, crate::gateway_client::WAIT).await;
    assert!(matches!(hello, Some(ServerFrame::Control(ControlFrame::Hello { .. }))), "hello first");
    let identify = ClientFrame::Identify { token: None, protocol_version: 1 };
    crate::gateway_client::send(&mut ws, &identify).await;
    matches!(
        crate::gateway_client::next_frame(&mut ws, crate::gateway_client::WAIT).await,
        Some(ServerFrame::Control(ControlFrame::Ready { .. }))
    )
}

db_test!(
    async fn a_refresh_token_is_never_a_session_cookie(srv) {
        let ann = srv.user("ann").await;
        let first: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
        let next: RefreshResponse = refresh(&srv, &first.refresh_token).await.ok();
        assert_eq!(
            with_cookie(&srv, "/api/sessions", &first.refresh_token).await,
            StatusCode::UNAUTHORIZED,
            "a spent refresh token must not open the API through the cookie path"
        );
        assert_eq!(
            with_cookie(&srv, "/api/sessions", &next.refresh_token).await,
            StatusCode::UNAUTHORIZED,
            "nor an unspent one: refresh tokens are traded only at /api/auth/refresh"
        );
        assert!(!gateway_accepts_cookie(&srv, &first.refresh_token).await, "the gateway refuses it too");
        let after: RefreshResponse = refresh(&srv, &next.refresh_token).await.ok();
        refresh(&srv, &first.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused);
        refresh(&srv, &after.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);

        let (_jar, set) = browser_session(&srv, &ann.email).await;
        let value = set.trim_start_matches("cromulent_session=").split(';').next().expect("value").to_owned();
        assert_eq!(with_cookie(&srv, "/api/sessions", &value).await, StatusCode::OK, "a real cookie still works");
        assert!(gateway_accepts_cookie(&srv, &value).await, "and opens the gateway");
        refresh(&srv, &value).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn auto_login_cookies_end_with_their_device_login(srv) {
        let ann = srv.user("ann").await;
        let cookie_for = |token: String| {
            let srv = &srv;
            async move {
                let resp = srv
                    .http
                    .post(srv.url("/auto_login"))
                    .header("origin", &srv.base)
                    .json(&json!({"refresh_token": token}))
                    .send()
                    .await
                    .expect("sent");
                assert_eq!(resp.status(), StatusCode::OK);
                let set = resp.headers()["set-cookie"].to_str().expect("ascii").to_owned();
                set.trim_start_matches("cromulent_session=").split(';').next().expect("value").to_owned()
            }
        };
        let device: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
        let cookie = cookie_for(device.refresh_token.clone()).await;
        assert_eq!(with_cookie(&srv, "/api/sessions", &cookie).await, StatusCode::OK);
        let sessions: Vec<serde_json::Value> = srv.get("/api/sessions", &ann).await.ok();
        assert_eq!(sessions.len(), 2, "the cookie is the device's login, not a separate one: {sessions:?}");
        srv.anonymous(Method::POST, "/api/auth/logout", Some(json!({"refresh_token": device.refresh_token})))
            .await
            .ok::<serde_json::Value>();
        assert_eq!(
            with_cookie(&srv, "/api/sessions", &cookie).await,
            StatusCode::UNAUTHORIZED,
            "logging the device out ends the browser session it opened"
        );

        let device: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
        let cookie = cookie_for(device.refresh_token.clone()).await;
        let closed = srv
            .http
            .delete(srv.url("/api/auth/session"))
            .header("cookie", format!("cromulent_session={cookie}"))
            .header("origin", &srv.base)
            .send()
            .await
            .expect("sent");
        assert_eq!(closed.status(), StatusCode::OK);
        refresh(&srv, &device.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    }
);

db_test!(
    async fn a_lost_refresh_answer_may_be_retried_once(srv) {
        let ann = srv.user("ann").await;
        let first: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
        let lost: RefreshResponse = refresh(&srv, &first.refresh_token).await.ok();
        let retried: RefreshResponse = refresh(&srv, &first.refresh_token).await.ok();
        assert_ne!(retried.refresh_token, lost.refresh_token, "the retry gets a token of its own");
        refresh(&srv, &lost.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused);
        assert_eq!(
            srv.call(Method::GET, "/api/sessions", Some(&retried.access_token), None).await.status,
            StatusCode::UNAUTHORIZED,
            "the answer that was lost, showing up later, is theft: the login ends"
        );

        // Once the replacement was traded, the old token is theft again. Several times
        // over: two rotations within one millisecond once made the replacement's own
        // successor look like the old token's and let the retry through.
        for _ in 0..10 {
            let second: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
            let used: RefreshResponse = refresh(&srv, &second.refresh_token).await.ok();
            refresh(&srv, &used.refresh_token).await.ok::<RefreshResponse>();
            refresh(&srv, &second.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused);
        }
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_retries_past_the_grace_revoke_the_login() {
    let srv =
        TestServer::start_with(crate::harness::Database::Sqlite, |c| c.refresh_retry_grace_secs = 0).await;
    let ann = srv.user("ann").await;
    let first: LoginResponse = login(&srv, &ann.email, PASSWORD).await.ok();
    refresh(&srv, &first.refresh_token).await.ok::<RefreshResponse>();
    refresh(&srv, &first.refresh_token).await.error(StatusCode::UNAUTHORIZED, ErrorCode::TokenReused);
}
