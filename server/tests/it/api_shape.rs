//! The API's shape: one error body for every failure, probes, the OpenAPI document.

use cromulent_protocol::{ApiError, ErrorCode};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::db_test;
use crate::harness::{Database, TestServer};

db_test!(
    async fn malformed_and_oversized_bodies_get_typed_errors(srv) {
        let garbage = srv.call_raw(Method::POST, "/api/auth/login", None, "application/json", b"{not json".to_vec()).await;
        garbage.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let wrong_type = srv.call_raw(Method::POST, "/api/auth/login", None, "text/plain", b"{}".to_vec()).await;
        wrong_type.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType);
        let array = srv.call_raw(Method::POST, "/api/auth/login", None, "application/json", b"[\"a@b.c\", \"pw\"]".to_vec()).await;
        array.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let huge = format!("{{\"email\":\"{}\"}}", "a".repeat(70 * 1024));
        let big = srv.call_raw(Method::POST, "/api/auth/login", None, "application/json", huge.into_bytes()).await;
        big.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
    }
);

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_shape() {
    let srv = TestServer::start(Database::Sqlite).await;
    srv.anonymous(Method::GET, "/api/nothing-here", None)
        .await
        .error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    srv.anonymous(Method::PUT, "/api/auth/login", None)
        .await
        .error(StatusCode::METHOD_NOT_ALLOWED, ErrorCode::MethodNotAllowed);
}

#[tokio::test]
async fn probes_report_liveness_and_readiness() {
    let srv = TestServer::start(Database::Sqlite).await;
    assert_eq!(srv.anonymous(Method::GET, "/healthz", None).await.status, StatusCode::OK);
    assert_eq!(srv.anonymous(Method::GET, "/readyz", None).await.status, StatusCode::OK);
    srv.state.db.close().await;
    let ready = srv.anonymous(Method::GET, "/readyz", None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "a closed database means not ready");
    assert_eq!(srv.anonymous(Method::GET, "/healthz", None).await.status, StatusCode::OK, "but still alive");
}

#[tokio::test]
async fn the_openapi_document_lists_the_endpoints() {
    let srv = TestServer::start(Database::Sqlite).await;
    let doc = srv.anonymous(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let paths = doc.body["paths"].as_object().expect("paths object");
    for path in
        ["/api/auth/register", "/api/auth/login", "/api/auth/refresh", "/api/sessions/{id}", "/auto_login"]
    {
        assert!(paths.contains_key(path), "{path} must be documented");
    }
    assert!(doc.body["components"]["schemas"].get("ApiError").is_some(), "the error body is described");
}

#[tokio::test]
async fn the_dev_mailbox_exists_only_in_dev_mode() {
    let dev = TestServer::start(Database::Sqlite).await;
    let list = dev.anonymous(Method::GET, "/dev/mailbox.json", None).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.is_array());
    let page = dev.anonymous(Method::GET, "/dev/mailbox", None).await;
    assert!(matches!(page.body, Value::String(ref html) if html.contains("Dev mailbox")));

    let prod = TestServer::start_with(Database::Sqlite, |c| {
        c.dev_mailbox = Some(false);
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = Some(9);
        c.smtp.security = cromulent_server::config::SmtpSecurity::None;
    })
    .await;
    let gone = prod.anonymous(Method::GET, "/dev/mailbox.json", None).await;
    let err: ApiError = gone.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
    assert!(!err.message.is_empty());
}
