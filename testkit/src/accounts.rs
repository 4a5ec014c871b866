//! Accounts made and signed in the way a person does, over `POST /api/auth/register`
//! and `POST /api/auth/login`.

use cromulent_protocol::auth::{LoginRequest, LoginResponse, RegisterRequest, RegisterResponse};
use cromulent_protocol::Id;

/// The password of every account made here.
pub const PASSWORD: &str = "correct horse battery staple";

/// The address an account named `username` registers with.
pub fn email_of(username: &str) -> String {
    format!("{username}@example.test")
}

/// Why an account could not be made or signed in; `who` names the account.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccountError {
    /// The server could not be reached or its answer not read; retryable.
    #[error("{who}: {source}")]
    Transport { who: String, source: reqwest::Error },
    /// The server said no (a name taken, registration closed, a limit, a wrong
    /// password); not retryable.
    #[error("{who}: {status} {body}")]
    Refused { who: String, status: u16, body: String },
    /// The server requires the emailed link to be followed first, so there is no
    /// account to use yet; test servers must not require confirmation.
    #[error("{who}: the server requires email confirmation")]
    NeedsConfirmation { who: String },
}

/// Registers `username` with the address [`email_of`] and [`PASSWORD`] at the server
/// `base` (`http://host:port`), and answers the new account's id. The first account of a
/// server is its admin.
pub async fn register(http: &reqwest::Client, base: &str, username: &str) -> Result<Id, AccountError> {
    let who = format!("register {username}");
    let body = RegisterRequest {
        email: email_of(username),
        username: username.to_owned(),
        password: PASSWORD.to_owned(),
        invite_code: None,
    };
    let answer: RegisterResponse = post(http, &format!("{base}/api/auth/register"), &body, &who).await?;
    answer.user.map(|user| user.user.id).ok_or(AccountError::NeedsConfirmation { who })
}

/// Logs the account at `email` (password [`PASSWORD`]) in as a test device named
/// `device_name`; the answer carries its refresh token.
pub async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    device_name: &str,
) -> Result<LoginResponse, AccountError> {
    let body = LoginRequest {
        email: email.to_owned(),
        password: PASSWORD.to_owned(),
        device_name: Some(device_name.to_owned()),
        device_type: Some("test".to_owned()),
    };
    post(http, &format!("{base}/api/auth/login"), &body, &format!("login {email}")).await
}

async fn post<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    body: &impl serde::Serialize,
    who: &str,
) -> Result<T, AccountError> {
    let transport = |source| AccountError::Transport { who: who.to_owned(), source };
    let resp = http.post(url).json(body).send().await.map_err(transport)?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(AccountError::Refused { who: who.to_owned(), status: status.as_u16(), body });
    }
    resp.json().await.map_err(transport)
}
