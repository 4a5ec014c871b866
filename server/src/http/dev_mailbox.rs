//! `/dev/mailbox`: the mails the server would have sent, for development only.

use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};

use super::error::{HttpError, HttpResult};
use super::extract::ClientIp;
use super::metrics::is_loopback;
use crate::auth::{AdminCaller, Rejection};
use crate::mail::dev_mailbox::StoredMail;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/dev/mailbox", get(show_mailbox)).route("/dev/mailbox.json", get(list_mailbox))
}

/// The mailbox holds password-reset links: it is shown to this machine and to admins,
/// never to anyone else who can reach the server.
fn mails(
    state: &AppState,
    ip: Option<&str>,
    admin: &Result<AdminCaller, Rejection>,
) -> HttpResult<Vec<StoredMail>> {
    if !is_loopback(ip) && admin.is_err() {
        return Err(HttpError::forbidden("the dev mailbox is shown to this machine and to admins only"));
    }
    Ok(state.mailer.dev_mailbox().map(|m| m.list()).unwrap_or_default())
}

/// Newest first, with to, subject and body.
async fn list_mailbox(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    admin: Result<AdminCaller, Rejection>,
) -> HttpResult<Json<Vec<StoredMail>>> {
    Ok(Json(mails(&state, ip.as_deref(), &admin)?))
}

async fn show_mailbox(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    admin: Result<AdminCaller, Rejection>,
) -> HttpResult<Html<String>> {
    let mut page = String::from(
        "<!doctype html><meta charset=utf-8><title>Dev mailbox</title>\
         <style>body{font:15px system-ui;max-width:50rem;margin:2rem auto}\
         article{border:1px solid #ccc;border-radius:6px;padding:1rem;margin:1rem 0}\
         pre{white-space:pre-wrap}</style><h1>Dev mailbox</h1>",
    );
    let all = mails(&state, ip.as_deref(), &admin)?;
    if all.is_empty() {
        page.push_str("<p>No mail yet.</p>");
    }
    for mail in all {
        page.push_str(&format!(
            "<article><p><b>To:</b> {}<br><b>Subject:</b> {}</p><pre>{}</pre></article>",
            escape(&mail.to),
            escape(&mail.subject),
            linkify(&escape(&mail.body)),
        ));
    }
    Ok(Html(page))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Makes the links in an already-escaped body clickable.
fn linkify(escaped: &str) -> String {
    escaped
        .split('\n')
        .map(|line| {
            let t = line.trim();
            if (t.starts_with("http://") || t.starts_with("https://")) && !t.contains(' ') {
                format!("<a href=\"{t}\">{t}</a>")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
