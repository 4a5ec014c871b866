//! The REST calls the scenarios need, with the protocol crate's wire types.

use std::net::IpAddr;

use anyhow::{bail, Context};
use cromulent_protocol::auth::{
    LoginRequest, LoginResponse, RefreshRequest, RefreshResponse, RegisterRequest,
};
use cromulent_protocol::channel::ChannelListEntry;
use cromulent_protocol::message::{Message, SendMessageRequest};
use cromulent_protocol::Id;
use reqwest::StatusCode;

/// Every benchmark account shares this password (argon2 cost does not depend on it).
pub const PASSWORD: &str = "benchmark-password-123";

/// A client for one server; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

/// A signed-in account: the bearer token for REST and the gateway.
#[derive(Clone)]
pub struct Account {
    pub email: String,
    pub user_id: Id,
    pub access_token: String,
}

impl Api {
    /// `source` binds the client's sockets to that loopback address.
    pub fn new(base: String, source: Option<IpAddr>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .local_address(source)
            .pool_max_idle_per_host(1024)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn register(&self, username: &str) -> anyhow::Result<String> {
        let email = format!("{username}@bench.invalid");
        let body = RegisterRequest {
            email: email.clone(),
            username: username.into(),
            password: PASSWORD.into(),
            invite_code: None,
        };
        let res = self.http.post(self.url("/api/auth/register")).json(&body).send().await?;
        expect_success(res, "register").await?;
        Ok(email)
    }

    pub async fn login(&self, email: &str) -> anyhow::Result<LoginResponse> {
        let body = LoginRequest {
            email: email.into(),
            password: PASSWORD.into(),
            device_name: Some("bench".into()),
            device_type: Some("bench".into()),
        };
        let res = self.http.post(self.url("/api/auth/login")).json(&body).send().await?;
        Ok(expect_success(res, "login").await?.json().await?)
    }

    /// Registers, logs in and trades the refresh token for an access token.
    pub async fn new_account(&self, username: &str) -> anyhow::Result<Account> {
        let email = self.register(username).await?;
        let login = self.login(&email).await?;
        let body = RefreshRequest { refresh_token: login.refresh_token };
        let res = self.http.post(self.url("/api/auth/refresh")).json(&body).send().await?;
        let refreshed: RefreshResponse = expect_success(res, "refresh").await?.json().await?;
        Ok(Account { email, user_id: login.user.user.id, access_token: refreshed.access_token })
    }

    pub async fn channels(&self, account: &Account) -> anyhow::Result<Vec<ChannelListEntry>> {
        let res = self.http.get(self.url("/api/channels")).bearer_auth(&account.access_token).send().await?;
        Ok(expect_success(res, "list channels").await?.json().await?)
    }

    /// The id of the default text channel `general`, which every new account joins.
    pub async fn general(&self, account: &Account) -> anyhow::Result<Id> {
        self.channels(account)
            .await?
            .into_iter()
            .find(|c| c.channel.name == "general")
            .map(|c| c.channel.id)
            .context("no `general` channel")
    }

    pub async fn send_message(
        &self,
        account: &Account,
        channel: Id,
        body: String,
        nonce: String,
    ) -> anyhow::Result<Message> {
        let req = SendMessageRequest { body, nonce: Some(nonce) };
        let res = self
            .http
            .post(self.url(&format!("/api/channels/{channel}/messages")))
            .bearer_auth(&account.access_token)
            .json(&req)
            .send()
            .await?;
        Ok(expect_success(res, "send message").await?.json().await?)
    }

    /// One page of history older than `before`; answers how many messages it held.
    pub async fn history_page(
        &self,
        account: &Account,
        channel: Id,
        before: Id,
        limit: u32,
    ) -> anyhow::Result<usize> {
        let res = self
            .http
            .get(self.url(&format!("/api/channels/{channel}/messages?before={before}&limit={limit}")))
            .bearer_auth(&account.access_token)
            .send()
            .await?;
        let page: Vec<Message> = expect_success(res, "list messages").await?.json().await?;
        Ok(page.len())
    }
}

async fn expect_success(res: reqwest::Response, what: &str) -> anyhow::Result<reqwest::Response> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let body = res.text().await.unwrap_or_default();
    if status == StatusCode::NOT_FOUND {
        bail!("{what}: 404 (is the endpoint in this server build?) {body}");
    }
    bail!("{what}: {status} {body}")
}
