//! The web client as the server serves it: files from `WEB_DIR`, caching, CSP, SPA routes.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::StatusCode;

use crate::harness::{Database, TempDir, TestServer};

const INDEX: &str = "<!doctype html><title>Cromulent</title><div id=app></div>";

/// A server whose `WEB_DIR` holds a small built client; the folder lives as long as it.
async fn server_with_client() -> (TestServer, TempDir) {
    let web = TempDir::new();
    std::fs::create_dir_all(web.0.join("assets")).expect("assets dir");
    std::fs::write(web.0.join("index.html"), INDEX).expect("index");
    std::fs::write(web.0.join("assets/index-3f2a1b.js"), "console.log(1)").expect("asset");
    std::fs::write(web.0.join("favicon.svg"), "<svg/>").expect("icon");
    let dir = web.0.clone();
    let server = TestServer::start_with(Database::Sqlite, move |c| c.web_dir = Some(dir)).await;
    (server, web)
}

async fn get(server: &TestServer, path: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let resp = server.http.get(server.url(path)).send().await.expect("request reaches the server");
    let status = resp.status();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.expect("body"))
}

fn header(headers: &reqwest::header::HeaderMap, name: reqwest::header::HeaderName) -> &str {
    headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_is_revalidated_and_carries_a_strict_policy() {
    let (server, _web) = server_with_client().await;
    let (status, headers, body) = get(&server, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, INDEX, "the root serves the built index.html");
    assert_eq!(header(&headers, CACHE_CONTROL), "no-cache", "a new deploy must reach browsers at once");
    assert!(header(&headers, CONTENT_TYPE).starts_with("text/html"));
    let csp = header(&headers, CONTENT_SECURITY_POLICY);
    let host = server.base.trim_start_matches("http://");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "media-src 'self' blob:",
        "img-src 'self' https: data:",
    ] {
        assert!(csp.contains(part), "policy lacks {part}: {csp}");
    }
    assert!(csp.contains(&format!("ws://{host}")), "the gateway's origin must be reachable: {csp}");
    assert!(!csp.contains("unsafe-eval"), "no eval for injected code: {csp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashed_assets_are_cached_forever_and_other_files_are_not() {
    let (server, _web) = server_with_client().await;
    let (status, headers, body) = get(&server, "/assets/index-3f2a1b.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log(1)"));
    assert_eq!(
        header(&headers, CACHE_CONTROL),
        "public, max-age=31536000, immutable",
        "names change with content"
    );
    assert!(header(&headers, CONTENT_TYPE).contains("javascript"), "browsers refuse scripts of other types");

    let (status, headers, _) = get(&server, "/favicon.svg").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, CACHE_CONTROL), "no-cache", "unhashed names may change content");

    let (status, _, body) = get(&server, "/assets/index-gone.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a missing asset is an error, not the HTML page: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_routes_fall_back_to_the_index() {
    let (server, _web) = server_with_client().await;
    for path in ["/confirm/abc123", "/reset/xyz", "/confirm-email/t0k", "/channels/42", "/settings"] {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, INDEX), "{path} is a client-side route");
        assert!(!header(&headers, CONTENT_SECURITY_POLICY).is_empty(), "{path} is HTML and needs the policy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_paths_never_turn_into_the_client() {
    let (server, _web) = server_with_client().await;
    for path in ["/api/nope", "/api", "/dev/nothing-here", "/auto_login/x"] {
        let (status, headers, body) = get(&server, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(header(&headers, CONTENT_TYPE).starts_with("application/json"), "{path} keeps the API shape");
        let err: serde_json::Value = serde_json::from_str(&body).expect("JSON error body");
        assert_eq!(err["code"], "not_found", "{path}: {body}");
    }
    let (status, _, _) = get(&server, "/healthz").await;
    assert_eq!(status, StatusCode::OK, "probes still answer themselves");

    let resp = server.http.post(server.url("/channels/42")).send().await.expect("request");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "only GET and HEAD reach the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_outside_the_folder_stay_out_of_reach() {
    let (server, web) = server_with_client().await;
    std::fs::write(web.0.join(".env"), "SECRET=1").expect("hidden file");
    let (_, _, body) = get(&server, "/.env").await;
    assert!(!body.contains("SECRET"), "hidden files are never served");
    let (_, _, body) = get(&server, "/assets/..%2f..%2fCargo.toml").await;
    assert!(!body.contains("[package]"), "encoded traversal does not leave the folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_built_client_says_how_to_build_it() {
    let empty = TempDir::new();
    let dir = empty.0.clone();
    let server = TestServer::start_with(Database::Sqlite, move |c| c.web_dir = Some(dir)).await;
    let (status, headers, body) = get(&server, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("npm run build"), "the page tells the operator what to do: {body}");
    assert!(!header(&headers, CONTENT_SECURITY_POLICY).is_empty(), "even this page gets the policy");
}
