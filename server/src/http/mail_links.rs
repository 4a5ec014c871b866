//! The single-use links mailed to an address (account confirmation, password reset,
//! change of address): issuing one voids the account's earlier links of that purpose,
//! and redeeming one spends it or answers `400 invalid_token`.

use std::time::Duration;

use axum::http::StatusCode;
use cromulent_protocol::{ErrorCode, Id};
use sqlx::{Any, Executor};

use super::error::{HttpError, HttpResult};
use crate::auth::{ms, secret};
use crate::store;
use crate::store::mail_tokens::{NewMailToken, Purpose, Redeemed};
use crate::store::Conn;

/// Voids the user's outstanding links of this purpose and records a new one, valid for
/// `ttl` from `now`, in the caller's transaction; returns the token to mail (only its
/// digest is kept).
pub(super) async fn issue(
    conn: &mut Conn,
    user_id: Id,
    purpose: Purpose,
    sent_to: &str,
    ttl: Duration,
    now: i64,
) -> sqlx::Result<String> {
    let token = secret::generate();
    store::mail_tokens::void_outstanding(&mut *conn, user_id, purpose, now).await?;
    let new = NewMailToken {
        token_hash: &secret::digest(&token),
        user_id,
        purpose,
        sent_to,
        now,
        expires_at: now + ms(ttl),
    };
    store::mail_tokens::insert(&mut *conn, &new).await?;
    Ok(token)
}

/// Spends the link with this token (as the client sent it), in the caller's
/// transaction: an unknown, used or expired one, or one of another purpose, is
/// `invalid_token`.
pub(super) async fn redeem(conn: &mut Conn, token: &str, purpose: Purpose, now: i64) -> HttpResult<Redeemed> {
    store::mail_tokens::redeem(conn, &digest(token), purpose, now).await?.ok_or_else(invalid_token)
}

/// Refuses, as [`redeem`] would, a link that would not redeem now, without spending
/// it: lets a handler turn a bad link away before slow work (hashing a password).
pub(super) async fn check_redeemable<'e>(
    ex: impl Executor<'e, Database = Any>,
    token: &str,
    purpose: Purpose,
    now: i64,
) -> HttpResult<()> {
    if store::mail_tokens::is_redeemable(ex, &digest(token), purpose, now).await? {
        Ok(())
    } else {
        Err(invalid_token())
    }
}

/// Mail clients and copying add white space around a token; it is never part of it.
fn digest(token: &str) -> String {
    secret::digest(token.trim())
}

fn invalid_token() -> HttpError {
    HttpError::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidToken, "this link is invalid, used or expired")
}
