//! Benchmark accounts: registered through the test kit, then signed in and driven by
//! the native client (`cromulent-client`), exactly as a user's device drives a server.

use anyhow::Context;
use cromulent_client::api::{Client, Login, LoginRequest, TokenSource};
use cromulent_protocol::Id;
use cromulent_testkit::accounts::{email_of, register, PASSWORD};

/// A signed-in account: a native client holding its tokens (clones share them and the
/// connection pool of the server's anonymous client).
#[derive(Clone)]
pub struct Account {
    pub email: String,
    pub user_id: Id,
    pub client: Client,
}

/// The anonymous client for the server at `base`; every account's client shares its
/// connection pool.
pub fn anonymous(base: &str) -> anyhow::Result<Client> {
    Client::new(base).context("the server's address")
}

/// Registers `username`, returning the address it logs in with.
pub async fn register_account(server: &Client, username: &str) -> anyhow::Result<String> {
    let base = server.server().as_str().trim_end_matches('/');
    register(&reqwest::Client::new(), base, username).await?;
    Ok(email_of(username))
}

/// Logs `email` in as a device; the answer holds a fresh refresh token.
pub async fn login(server: &Client, email: &str) -> anyhow::Result<Login> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: PASSWORD.to_owned().into(),
        device_name: Some("bench".into()),
        device_type: Some("bench".into()),
    };
    Ok(server.login(&request).await?)
}

/// Registers, logs in and trades the refresh token for a first access token.
pub async fn new_account(server: &Client, username: &str) -> anyhow::Result<Account> {
    let email = register_account(server, username).await?;
    let login = login(server, &email).await?;
    let tokens = TokenSource::new(server, login.refresh_token, None);
    tokens.access_token().await.context("the first refresh")?;
    Ok(Account { email, user_id: login.user.user.id, client: server.with_tokens(tokens) })
}

impl Account {
    /// A current access token, for identifying gateway connections of this account.
    pub async fn access_token(&self) -> anyhow::Result<String> {
        let tokens = self.client.tokens().context("an account's client holds its tokens")?;
        Ok(tokens.access_token().await?.expose().clone())
    }

    /// The id of the default text channel `general`, which every new account joins.
    pub async fn general(&self) -> anyhow::Result<Id> {
        self.client
            .channels()
            .await?
            .into_iter()
            .find(|c| c.channel.name == "general")
            .map(|c| c.channel.id)
            .context("no `general` channel")
    }
}
