//! Accounts made the way a person makes one, over `POST /api/auth/register`.

use cromulent_protocol::auth::{RegisterRequest, RegisterResponse};
use cromulent_protocol::Id;

/// The password of every account made here.
pub const PASSWORD: &str = "correct horse battery staple";

/// The address an account named `username` registers with.
pub fn email_of(username: &str) -> String {
    format!("{username}@example.test")
}

/// Why an account could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The server could not be reached or its answer not read; retryable.
    #[error("register {username}: {source}")]
    Transport { username: String, source: reqwest::Error },
    /// The server said no (a name taken, registration closed, a limit); not retryable.
    #[error("register {username}: {status} {body}")]
    Refused { username: String, status: u16, body: String },
    /// The server requires the emailed link to be followed first, so there is no
    /// account to use yet; test servers must not require confirmation.
    #[error("register {username}: the server requires email confirmation")]
    NeedsConfirmation { username: String },
}

/// Registers `username` with the address [`email_of`] and [`PASSWORD`] at the server
/// `base` (`http://host:port`), and answers the new account's id. The first account of a
/// server is its admin.
pub async fn register(http: &reqwest::Client, base: &str, username: &str) -> Result<Id, RegisterError> {
    let transport = |source| RegisterError::Transport { username: username.to_owned(), source };
    let body = RegisterRequest {
        email: email_of(username),
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
        invite_code: None,
    };
    let resp = http.post(format!("{base}/api/auth/register")).json(&body).send().await.map_err(transport)?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(RegisterError::Refused { username: username.to_owned(), status: status.as_u16(), body });
    }
    let answer: RegisterResponse = resp.json().await.map_err(transport)?;
    answer
        .user
        .map(|user| user.user.id)
        .ok_or_else(|| RegisterError::NeedsConfirmation { username: username.to_owned() })
}
