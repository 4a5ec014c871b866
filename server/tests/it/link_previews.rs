//! Link previews end to end: a page served on loopback is summarised, and addresses off
//! the public internet are refused before any connection is made.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use cromulent_protocol::message::LinkPreview;
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{Database, TestServer, TestUser};

const PAGE: &str = r#"<!doctype html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="Cromulent &amp; friends">
<meta property="og:description" content="A  perfectly
  cromulent page">
<meta property="og:image" content="/cover.png">
<meta property="og:site_name" content="Springfield">
</head><body>hello</body></html>"#;

/// A tiny site on 127.0.0.1 that counts every request it gets.
struct Site {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl Site {
    async fn start() -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let html =
            |body: String| ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        let app = Router::new()
            .route("/page", get(move || async move { html(PAGE.to_owned()) }))
            .route(
                "/plain",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html")],
                        "<title>Only a &lt;title&gt;</title><meta name=description content='Described'>",
                    )
                }),
            )
            .route(
                "/big",
                get(move || async move {
                    // The og:title sits past the 512 KiB cut, so the <title> must be used.
                    let padding = "x".repeat(600 * 1024);
                    html(format!("<title>Big</title><body>{padding}<meta property=og:title content=Late>"))
                }),
            )
            .route(
                "/json",
                get(|| async { ([(header::CONTENT_TYPE, "application/json")], "{\"title\":\"no\"}") }),
            )
            .route("/redirect", get(|| async { Redirect::to("/page") }))
            .route("/to-private", get(|| async { Redirect::to("http://10.0.0.1/") }))
            .route("/to-metadata", get(|| async { Redirect::to("http://169.254.169.254/latest/meta-data/") }))
            .route("/to-ftp", get(|| async { Redirect::to("ftp://example.com/") }))
            .route("/loop", get(|| async { Redirect::to("/loop") }))
            .layer(axum::middleware::from_fn_with_state(hits.clone(), count))
            .with_state(());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Site { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn count(
    State(hits): State<Arc<AtomicUsize>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    hits.fetch_add(1, Ordering::SeqCst);
    next.run(req).await
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

async fn preview(srv: &TestServer, user: &TestUser, url: &str) -> crate::harness::Reply {
    srv.get(&format!("/api/link_preview?url={}", encode(url)), user).await
}

/// A server whose previews may reach loopback (where the test site lives), flag on.
async fn server(allow_loopback: bool) -> (TestServer, TestUser) {
    let srv =
        TestServer::start_with(Database::Sqlite, |c| c.link_preview_allow_loopback = allow_loopback).await;
    let ann = srv.user("ann").await;
    srv.patch("/api/admin/feature_flags", &ann, json!({"link_previews": true}))
        .await
        .ok::<serde_json::Value>();
    (srv, ann)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_is_summarised_from_its_open_graph_tags() {
    let site = Site::start().await;
    let (srv, ann) = server(true).await;
    let bob = srv.user("bob").await;

    let got: LinkPreview = preview(&srv, &bob, &site.url("/page")).await.ok();
    let expected = LinkPreview {
        url: site.url("/page"),
        title: Some("Cromulent & friends".into()),
        description: Some("A perfectly cromulent page".into()),
        image_url: Some(site.url("/cover.png")),
        site_name: Some("Springfield".into()),
    };
    assert_eq!(got, expected, "og tags win, decoded and collapsed; the image is made absolute");

    let again: LinkPreview = preview(&srv, &ann, &site.url("/page")).await.ok();
    assert_eq!((again, site.hits()), (expected, 1), "the second ask is served from the cache");

    let plain: LinkPreview = preview(&srv, &bob, &site.url("/plain")).await.ok();
    assert_eq!(
        plain.title.as_deref(),
        Some("Only a <title>"),
        "without og tags the <title> is used, as text"
    );
    assert_eq!(plain.description.as_deref(), Some("Described"), "and the description meta");
    assert_eq!((plain.image_url, plain.site_name), (None, None), "nothing invented");

    let followed: LinkPreview = preview(&srv, &bob, &site.url("/redirect")).await.ok();
    assert_eq!(
        followed.title.as_deref(),
        Some("Cromulent & friends"),
        "a redirect to a vetted address is followed"
    );
    assert_eq!(followed.url, site.url("/redirect"), "the preview keeps the address asked about");

    let big: LinkPreview = preview(&srv, &bob, &site.url("/big")).await.ok();
    assert_eq!(big.title.as_deref(), Some("Big"), "a page is read only up to the size cap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_pages_and_bad_redirects_are_refused() {
    let site = Site::start().await;
    let (srv, ann) = server(true).await;

    let json = preview(&srv, &ann, &site.url("/json"))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    assert_eq!(json.field.as_deref(), Some("url"), "only HTML is previewed");
    // Redirects are vetted like the first address, so these stop before any connection
    // to the private address.
    for path in ["/to-private", "/to-metadata"] {
        preview(&srv, &ann, &site.url(path)).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
    preview(&srv, &ann, &site.url("/to-ftp"))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    let hits = site.hits();
    preview(&srv, &ann, &site.url("/loop"))
        .await
        .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    assert_eq!(site.hits() - hits, 4, "a redirect loop is given the first request and 3 redirects, no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_addresses_and_other_schemes_are_refused_without_traffic() {
    let site = Site::start().await;
    let (srv, ann) = server(false).await;

    preview(&srv, &ann, &site.url("/page")).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    preview(&srv, &ann, &format!("http://localhost:{}/page", site.addr.port()))
        .await
        .error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    assert_eq!(site.hits(), 0, "loopback is refused before connecting unless the server allows it");
    // Vetting happens before any connection, so these never see a packet.
    for url in [
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://192.168.1.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://100.64.0.1/",
    ] {
        preview(&srv, &ann, url).await.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden);
    }
    for url in ["ftp://example.com/", "javascript:alert(1)", "file:///etc/passwd", "not a url"] {
        let err = preview(&srv, &ann, url)
            .await
            .error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert_eq!(err.field.as_deref(), Some("url"), "{url}: only http(s) pages are previewed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feature_flag_and_sign_in_guard_the_endpoint() {
    let site = Site::start().await;
    let srv = TestServer::start_with(Database::Sqlite, |c| c.link_preview_allow_loopback = true).await;
    let ann = srv.user("ann").await;
    let path = format!("/api/link_preview?url={}", encode(&site.url("/page")));

    srv.get(&path, &ann).await.error(StatusCode::FORBIDDEN, ErrorCode::FeatureDisabled);
    srv.anonymous(Method::GET, &path, None).await.error(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized);
    assert_eq!(site.hits(), 0, "neither a switched-off flag nor an anonymous caller fetches anything");
    srv.patch("/api/admin/feature_flags", &ann, json!({"link_previews": true}))
        .await
        .ok::<serde_json::Value>();
    let got: LinkPreview = srv.get(&path, &ann).await.ok();
    assert_eq!(got.site_name.as_deref(), Some("Springfield"), "once the admin turns it on, previews work");
}
