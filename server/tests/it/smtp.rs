//! Mail through a real SMTP server on loopback (Python's aiosmtpd, `scripts/smtp_sink.py`):
//! confirmation and reset links arrive and work.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use cromulent_protocol::auth::{LoginResponse, RegisterResponse};
use cromulent_protocol::ErrorCode;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::db_test;
use crate::harness::{link_token, Database, TempDir, TestServer, PASSWORD};

/// The SMTP sink, stopped when dropped.
pub(crate) struct SmtpSink {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SmtpSink {
    pub(crate) async fn start() -> Self {
        let dir = TempDir::new();
        let python = std::env::var("CROMULENT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", "0", "--dir"])
            .arg(&dir.0)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd runs the SMTP sink (scripts/test.sh installs it)");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the sink starts in time")
            .expect("reads")
            .expect("prints READY");
        let port = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()).expect("READY <port>");
        SmtpSink { child, port, dir }
    }

    /// Waits for a mail whose envelope goes to `to`; returns its raw text.
    pub(crate) async fn wait_for(&self, to: &str, containing: &str) -> String {
        for _ in 0..100 {
            for path in mails(&self.dir.0) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.contains(&format!("X-Envelope-To: {to}")) && text.contains(containing) {
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail to {to} containing {containing:?}");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn mails(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

pub(crate) async fn server_with_smtp(sink: &SmtpSink, database: Database) -> TestServer {
    let port = sink.port;
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
