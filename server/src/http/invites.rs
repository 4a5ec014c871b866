//! `/api/invites`: invite links that let people register when registration is
//! `invite_only` (or count who came through them when it is `open`), and
//! `/api/registration`, which tells signed-out clients the mode.
//!
//! A code is 256 random bits shown once, at creation; the server keeps its SHA-256 and
//! its first characters (for telling invites apart in a list), so a leaked database or
//! backup lets nobody in. The cost: a link can be copied again only by the browser that
//! created it.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::feature_flag::RegistrationMode;
use cromulent_protocol::invite::{CreateInviteRequest, CreatedInvite, Invite, RegistrationInfo};
use cromulent_protocol::moderation::AuditAction;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::audit_log::entry;
use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::auth::{secret, Caller};
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store;
use crate::store::invites::NewInvite;

/// How many characters of a code are kept in the clear: enough to tell a handful of
/// invites apart, leaving 200+ secret bits.
const PREFIX_CHARS: usize = 6;
/// The shortest lifetime: a link that dies before it can be sent is a mistake.
pub(crate) const MIN_LIFETIME_SECS: i64 = 60;
/// The most invites one list answer holds, newest first.
const LIST_MAX: i64 = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invite, list_invites))
        .routes(routes!(revoke_invite))
        .routes(routes!(get_registration))
}

/// Create an invite (admins; members too when the `member_invites` flag is on). The
/// code is in this answer only.
#[utoipa::path(post, path = "/api/invites", tag = "invites", security(("bearer" = []), ("cookie" = [])),
    request_body = CreateInviteRequest,
    responses((status = 201, body = CreatedInvite), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 422, body = ApiError)))]
async fn create_invite(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<CreateInviteRequest>,
) -> HttpResult<(StatusCode, Json<CreatedInvite>)> {
    may_invite(&state, &caller).await?;
    let limits = &state.config.limits;
    if !(1..=i64::from(limits.invite_max_uses)).contains(&req.max_uses) {
        let max = limits.invite_max_uses;
        return Err(HttpError::invalid("max_uses", format!("max_uses must be between 1 and {max}")));
    }
    if !(MIN_LIFETIME_SECS..=i64::from(limits.invite_max_lifetime_secs)).contains(&req.expires_in_secs) {
        let max = limits.invite_max_lifetime_secs;
        return Err(HttpError::invalid(
            "expires_in_secs",
            format!("expires_in_secs must be between {MIN_LIFETIME_SECS} and {max}"),
        ));
    }
    let code = secret::generate();
    let now = now_ms();
    let id = state.ids.next();
    let new = NewInvite {
        id,
        code_digest: &secret::digest(&code),
        code_prefix: &code[..PREFIX_CHARS],
        created_by: caller.id(),
        max_uses: req.max_uses,
        created_at: now,
        // Both bounds were checked above, so the product cannot overflow.
        expires_at: now + req.expires_in_secs * 1000,
    };
    let mut tx = state.db.begin_write().await?;
    store::invites::insert(&mut *tx, &new).await?;
    let invite = store::invites::find_by_id(&mut *tx, id).await?.ok_or_else(HttpError::internal)?;
    let record = store::audit_log::NewEntry {
        details: json!({ "invite_id": id, "max_uses": req.max_uses, "expires_at": invite.expires_at }),
        ..entry(&state, &caller, AuditAction::InviteCreated)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.id(), invite_id = %id, max_uses = req.max_uses, "invite created");
    let url = state.link("invite", &code);
    Ok((StatusCode::CREATED, Json(CreatedInvite { code, url, invite })))
}

/// Invites, newest first (at most 500): every invite for admins, their own for members
/// who may invite.
#[utoipa::path(get, path = "/api/invites", tag = "invites", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = Vec<Invite>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn list_invites(State(state): State<AppState>, caller: Caller) -> HttpResult<Json<Vec<Invite>>> {
    may_invite(&state, &caller).await?;
    let whose = if caller.is_admin() { None } else { Some(caller.id()) };
    Ok(Json(store::invites::list(state.db.pool(), whose, LIST_MAX).await?))
}

/// Revoke an invite (its creator or an admin): its code stops working at once; accounts
/// already made with it stay. Revoking twice is harmless.
#[utoipa::path(delete, path = "/api/invites/{id}", tag = "invites", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "invite id")),
    responses((status = 200, body = Invite), (status = 400, body = ApiError), (status = 401, body = ApiError),
        (status = 403, body = ApiError), (status = 404, body = ApiError)))]
async fn revoke_invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Id>,
) -> HttpResult<Json<Invite>> {
    let Some(invite) = store::invites::find_by_id(state.db.pool(), id).await? else {
        return Err(HttpError::not_found("invite"));
    };
    if invite.created_by != caller.id() && !caller.is_admin() {
        return Err(HttpError::forbidden("only its creator or an admin may revoke an invite"));
    }
    let mut tx = state.db.begin_write().await?;
    store::invites::revoke(&mut *tx, id, now_ms()).await?;
    let invite = store::invites::find_by_id(&mut *tx, id).await?.ok_or_else(HttpError::internal)?;
    let record = store::audit_log::NewEntry {
        details: json!({ "invite_id": id, "created_by": invite.created_by, "uses": invite.uses }),
        ..entry(&state, &caller, AuditAction::InviteRevoked)
    };
    store::audit_log::record(&mut *tx, record).await?;
    tx.commit().await?;
    tracing::info!(by = %caller.id(), invite_id = %id, "invite revoked");
    Ok(Json(invite))
}

/// The registration mode, for the Register screen of a signed-out client.
#[utoipa::path(get, path = "/api/registration", tag = "invites",
    responses((status = 200, body = RegistrationInfo)))]
async fn get_registration(State(state): State<AppState>) -> HttpResult<Json<RegistrationInfo>> {
    Ok(Json(RegistrationInfo { mode: state.feature_flags().await?.registration }))
}

async fn may_invite(state: &AppState, caller: &Caller) -> HttpResult<()> {
    if caller.is_admin() || state.feature_flags().await?.member_invites {
        return Ok(());
    }
    Err(HttpError::forbidden("only admins may invite people to this server"))
}

/// What a registration must do about invites, decided from the mode and the code sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Register without spending anything.
    Free,
    /// Spend one use of the invite with this code digest, or refuse.
    Spend(String),
}

/// Applies the registration mode. The first account is always let in (it becomes the
/// admin, and no invite can exist before it); after that `closed` lets nobody in,
/// `invite_only` needs a code, and a code sent in `open` mode is still checked and
/// spent, so that a revoked link stops working and its count stays true.
pub fn admission(mode: RegistrationMode, first: bool, code: Option<&str>) -> HttpResult<Admission> {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    if first {
        return Ok(Admission::Free);
    }
    match (mode, code) {
        (RegistrationMode::Closed, _) => Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::RegistrationClosed,
            "registration is closed",
        )),
        (RegistrationMode::InviteOnly, None) => {
            Err(invite_invalid("registration on this server needs an invite"))
        }
        (_, Some(code)) => Ok(Admission::Spend(secret::digest(code))),
        (RegistrationMode::Open, None) => Ok(Admission::Free),
    }
}

pub fn invite_invalid(message: &str) -> HttpError {
    let mut e = HttpError::new(StatusCode::FORBIDDEN, ErrorCode::InviteInvalid, message);
    e.body.field = Some("invite_code".to_owned());
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_account_needs_no_invite_whatever_the_mode() {
        for mode in [RegistrationMode::Open, RegistrationMode::InviteOnly, RegistrationMode::Closed] {
            let got = admission(mode, true, None).expect("the first account is always let in");
            assert_eq!(got, Admission::Free, "there is nobody yet who could have invited it");
        }
    }

    #[test]
    fn modes_decide_who_needs_a_code() {
        let closed =
            admission(RegistrationMode::Closed, false, Some("abc")).expect_err("closed lets nobody in");
        assert_eq!(
            closed.body.code,
            ErrorCode::RegistrationClosed,
            "even a code does not open a closed server"
        );
        let missing =
            admission(RegistrationMode::InviteOnly, false, Some("  ")).expect_err("a blank code is none");
        assert_eq!(missing.body.code, ErrorCode::InviteInvalid, "invite_only needs a code");
        let spend = admission(RegistrationMode::InviteOnly, false, Some(" abc ")).expect("a code is spent");
        assert_eq!(
            spend,
            Admission::Spend(secret::digest("abc")),
            "the trimmed code's digest is what is stored"
        );
        let open = admission(RegistrationMode::Open, false, None).expect("open needs nothing");
        assert_eq!(open, Admission::Free, "open registration spends nothing without a code");
    }
}
