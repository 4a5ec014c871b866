//! Mail through a real SMTP server on loopback (Python's aiosmtpd, `scripts/smtp_sink.py`):
//! confirmation and reset links arrive and work.

use cromulent_protocol::auth::{LoginResponse, RegisterResponse};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::harness::{link_token, Database, TestServer, PASSWORD};

pub(crate) use cromulent_testkit::SmtpSink;

pub(crate) async fn server_with_smtp(sink: &SmtpSink, database: Database) -> TestServer {
    let port = sink.port();
    TestServer::start_with(database, move |c| {
        c.dev_mailbox = Some(false);
        c.smtp.host = Some("127.0.0.1".into());
        c.smtp.port = Some(port);
        c.smtp.security = cromulent_server::config::SmtpSecurity::None;
        c.smtp.from = "Cromulent <noreply@example.test>".into();
    })
    .await
}

db_test!(
    async fn confirmation_and_reset_mails_go_out_over_smtp(srv) {
        // The harness server runs with the dev mailbox; this test needs its own.
        let sink = SmtpSink::start().await;
        let srv = server_with_smtp(&sink, srv.database).await;
        let reg: RegisterResponse = srv
            .anonymous(Method::POST, "/api/auth/register", Some(json!({"email": "ann@example.test", "username": "ann", "password": PASSWORD})))
            .await
            .ok();
        assert!(reg.confirmation_required, "with real mail, confirmation is required by default");
        let login = json!({"email": "ann@example.test", "password": PASSWORD});
        srv.anonymous(Method::POST, "/api/auth/login", Some(login.clone())).await.error(StatusCode::FORBIDDEN, ErrorCode::EmailNotConfirmed);

        let mail = sink.wait_for("ann@example.test", "/confirm/").await;
        assert!(mail.contains("Subject: Confirm your Cromulent account"), "{mail}");
        assert!(mail.contains("From: Cromulent <noreply@example.test>"), "{mail}");
        let token = link_token(&mail, "confirm").expect("a confirm link");
        srv.anonymous(Method::POST, "/api/auth/confirm", Some(json!({"token": token}))).await.ok::<serde_json::Value>();
        srv.anonymous(Method::POST, "/api/auth/login", Some(login)).await.ok::<LoginResponse>();

        srv.anonymous(Method::POST, "/api/auth/forgot_password", Some(json!({"email": "ann@example.test"}))).await;
        let mail = sink.wait_for("ann@example.test", "/reset/").await;
        let token = link_token(&mail, "reset").expect("a reset link");
        srv.anonymous(Method::POST, "/api/auth/reset_password", Some(json!({"token": token, "password": "new and long enough"})))
            .await
            .ok::<serde_json::Value>();
        let relogin = json!({"email": "ann@example.test", "password": "new and long enough"});
        srv.anonymous(Method::POST, "/api/auth/login", Some(relogin)).await.ok::<LoginResponse>();
        assert!(srv.anonymous(Method::GET, "/dev/mailbox.json", None).await.status == StatusCode::NOT_FOUND, "no dev mailbox in production mode");
    }
);
