//! `GET /api/users/me/export`: the caller's data as one JSON document to download.
//!
//! Everything but the messages is small and read up front; the messages are streamed
//! page by page behind it, so an account with a hundred thousand messages costs one
//! page of memory at a time. Exports are limited per user (`DATA_EXPORTS_PER_USER_PER_HOUR`):
//! each one reads every message the user wrote.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use cromulent_protocol::account::AccountExport;
use cromulent_protocol::{ApiError, Id};
use futures_util::stream;
use sqlx::AnyPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;

/// Messages read per query while streaming.
const MESSAGE_PAGE: u32 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_own_data))
}

/// Download everything the server holds about the caller: profile, logins (no
/// secrets), channels joined, read markers, notification settings, groups, and every
/// message they wrote, oldest first.
#[utoipa::path(get, path = "/api/users/me/export", tag = "account", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = AccountExport, description = "an attachment, `cromulent-export-<username>.json`"),
        (status = 401, body = ApiError), (status = 429, body = ApiError)))]
async fn export_own_data(State(state): State<AppState>, caller: Caller) -> HttpResult<Response> {
    state
        .throttles
        .data_export_per_user
        .reserve(&caller.id().to_string())
        .map_err(HttpError::rate_limited)?;
    let now = now_ms();
    let user_id = caller.id();
    let pool = state.db.pool();
    let sessions = super::sessions::active_sessions(&state, &caller, now).await?;
    let head = AccountExport {
        exported_at: now,
        profile: caller.user.to_own(),
        sessions,
        channels: store::account_export::memberships(pool, user_id).await?,
        read_states: store::account_export::read_states(pool, user_id).await?,
        notification_settings: store::account_export::notification_settings(pool, user_id, now).await?,
        groups: store::account_export::groups(pool, user_id).await?,
        relay_only: store::voice_privacy::relay_only(pool, user_id).await?,
        messages: Vec::new(),
    };
    let head = serde_json::to_string(&head).map_err(|_| HttpError::internal())?;
    // `messages` is the last field, so the document ends with its empty list: the
    // streamed messages go between the brackets.
    let open = head.strip_suffix("]}").ok_or_else(HttpError::internal)?.to_owned();

    let body = Body::from_stream(messages(pool.clone(), user_id, open));
    // Usernames may hold any letter; a header value takes ASCII only.
    let name: String = caller
        .user
        .username
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "_-.".contains(c) { c } else { '_' })
        .collect();
    let filename = format!("cromulent-export-{name}.json");
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|_| HttpError::internal())?;
    tracing::info!(%user_id, "data export started");
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// Where the stream is: the head first, then message pages after a cursor, then the
/// closing brackets.
enum Step {
    Head(String),
    Page { after: Option<Id>, first: bool },
    Done,
}

/// The document's chunks: `open`, the messages a page at a time, `]}`. A database
/// error mid-way ends the body early, so the client gets invalid JSON rather than a
/// document that silently lacks messages.
fn messages(
    pool: AnyPool,
    user_id: Id,
    open: String,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    stream::unfold(Step::Head(open), move |step| {
        let pool = pool.clone();
        async move {
            match step {
                Step::Head(open) => Some((Ok(Bytes::from(open)), Step::Page { after: None, first: true })),
                Step::Page { after, first } => {
                    match store::account_export::messages_page(&pool, user_id, after, MESSAGE_PAGE).await {
                        Ok(page) if page.is_empty() => Some((Ok(Bytes::from_static(b"]}")), Step::Done)),
                        Ok(page) => {
                            let last = page.last().map(|m| m.id);
                            let mut chunk = Vec::with_capacity(page.len() * 128);
                            for (i, message) in page.iter().enumerate() {
                                if !(first && i == 0) {
                                    chunk.push(b',');
                                }
                                serde_json::to_writer(&mut chunk, message).expect("a message serializes");
                            }
                            Some((Ok(Bytes::from(chunk)), Step::Page { after: last, first: false }))
                        }
                        Err(e) => {
                            tracing::error!(error = %e, %user_id, "data export ended early");
                            Some((Err(std::io::Error::other(e)), Step::Done))
                        }
                    }
                }
                Step::Done => None,
            }
        }
    })
}
