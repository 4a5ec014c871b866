//! REST client for the server's `/api`, typed by `cromulent-protocol`.
//!
//! A [`Client`] knows the server's base address and, once logged in, a [`TokenSource`]
//! that trades the refresh token for short-lived access tokens. Every authenticated call
//! sends `Authorization: Bearer <access token>`; when the server answers `401`
//! (`token_expired` or `unauthorized`) the token is refreshed and the call retried once.
//! Failures are [`ApiError`]s carrying the server's `{code, message}` and HTTP status.
//! [`Client::call_raw`] makes the calls a UI names by method and path (see [`raw`]);
//! [`ServerOrigin`] keeps them, and the token, on the client's own server.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cromulent_client::api::ApiError> {
//! use cromulent_client::api::{Client, LoginRequest, TokenSource};
//! let client = Client::new("http://127.0.0.1:4000")?;
//! let login = client.login(&LoginRequest::new("ada@example.test", "pw".into(), "laptop")).await?;
//! let client = client.with_tokens(TokenSource::new(&client, login.refresh_token, None));
//! for entry in client.channels().await? {
//!     println!("{} {}", entry.channel.name, entry.unread_count);
//! }
//! # Ok(()) }
//! ```

mod error;
mod origin;
pub mod raw;
mod token_source;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cromulent_protocol::attachment::Attachment;
use cromulent_protocol::auth::{Accepted, LoginResponse, RefreshRequest, RefreshResponse};
use cromulent_protocol::channel::{AckRequest, Channel, ChannelListEntry, CreateChannelRequest, ReadState};
use cromulent_protocol::message::{ListMessagesQuery, Message, SendMessageRequest};
use cromulent_protocol::search::{SearchHit, SearchQuery};
use cromulent_protocol::user::{OwnUser, User};
use cromulent_protocol::voice::IceServersResponse;
use cromulent_protocol::Id;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use error::ApiError;
pub use origin::{OriginError, ServerOrigin};
pub use raw::{ApiCall, CallFailure, Refusal, Upload};
pub use token_source::TokenSource;

use crate::tokens::Secret;

/// How long one request may take before it counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How many times [`Client::send_message`] tries when the connection fails; the nonce
/// makes a retry of a message that did arrive return the stored one.
const SEND_ATTEMPTS: usize = 3;

/// A REST client for one server. Cheap to clone; clones share connections and tokens.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    server: url::Url,
    tokens: Option<TokenSource>,
}

/// `POST /api/auth/login` as a device: the answer carries a refresh token.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub email: String,
    pub password: Secret,
    /// Shown in the account's list of signed-in devices, e.g. the host name.
    pub device_name: Option<String>,
    /// e.g. `desktop`, `cli`, `bot`.
    pub device_type: Option<String>,
}

impl LoginRequest {
    /// A login for the command line on `device_name`.
    pub fn new(email: &str, password: Secret, device_name: &str) -> Self {
        LoginRequest {
            email: email.to_owned(),
            password,
            device_name: Some(device_name.to_owned()),
            device_type: Some("cli".to_owned()),
        }
    }
}

/// A successful device login.
#[derive(Debug)]
pub struct Login {
    /// Long-lived and single use: store it (see [`crate::tokens`]) and trade it with
    /// [`TokenSource`].
    pub refresh_token: Secret,
    pub user: OwnUser,
}

/// A successful refresh: the old refresh token is spent, keep the new one.
#[derive(Debug)]
pub struct Refreshed {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub expires_in: Duration,
}

impl Client {
    /// A client for the server at `server` (`http://host:port` or `https://host`, any
    /// path is ignored). Not logged in: only login and refresh work until
    /// [`Client::with_tokens`].
    pub fn new(server: &str) -> Result<Self, ApiError> {
        let invalid =
            |reason: &str| ApiError::InvalidServer { url: server.to_owned(), reason: reason.into() };
        let mut url = url::Url::parse(server.trim()).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(invalid("use http://host[:port] or https://host[:port]"));
        }
        url.set_path("/");
        url.set_query(None);
        url.set_fragment(None);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("cromulent-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ApiError::Transport { url: server.to_owned(), source })?;
        Ok(Client { http, server: url, tokens: None })
    }

    /// The same client, authenticated by `tokens`.
    pub fn with_tokens(&self, tokens: TokenSource) -> Self {
        Client { tokens: Some(tokens), ..self.clone() }
    }

    /// The same client without credentials.
    pub fn without_tokens(&self) -> Self {
        Client { tokens: None, ..self.clone() }
    }

    /// A client for `server`, an origin already checked.
    pub fn for_origin(server: &ServerOrigin) -> Result<Self, ApiError> {
        Self::new(server.url().as_str())
    }

    /// The server's base address, ending in `/`.
    pub fn server(&self) -> &url::Url {
        &self.server
    }

    /// The server's origin, which the address was reduced to.
    pub fn origin(&self) -> ServerOrigin {
        ServerOrigin::of(&self.server).expect("Client::new keeps only http(s) addresses with a host")
    }

    /// The token source, when logged in (the gateway uses the same one).
    pub fn tokens(&self) -> Option<&TokenSource> {
        self.tokens.as_ref()
    }

    // ---- auth ----

    /// Logs a device in with email and password.
    pub async fn login(&self, req: &LoginRequest) -> Result<Login, ApiError> {
        let body = serde_json::json!({
            "email": req.email,
            "password": req.password.expose(),
            "device_name": req.device_name,
            "device_type": req.device_type,
        });
        let resp: LoginResponse = self.call(self.request(Method::POST, "api/auth/login").json(&body)).await?;
        Ok(Login { refresh_token: resp.refresh_token.into(), user: resp.user })
    }

    /// Trades a refresh token for an access token and the next refresh token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Refreshed, ApiError> {
        let body = RefreshRequest { refresh_token: refresh_token.expose().clone() };
        let resp: RefreshResponse =
            self.call(self.request(Method::POST, "api/auth/refresh").json(&body)).await?;
        Ok(Refreshed {
            access_token: resp.access_token.into(),
            refresh_token: resp.refresh_token.into(),
            expires_in: Duration::from_secs(resp.expires_in),
        })
    }

    /// Ends the login `refresh_token` belongs to; its gateway sockets close with 4009.
    /// An unknown token is not an error.
    pub async fn logout(&self, refresh_token: &Secret) -> Result<(), ApiError> {
        let body = RefreshRequest { refresh_token: refresh_token.expose().clone() };
        let _: Accepted = self.call(self.request(Method::POST, "api/auth/logout").json(&body)).await?;
        Ok(())
    }

    // ---- users ----

    /// The logged-in user.
    pub async fn me(&self) -> Result<OwnUser, ApiError> {
        self.authed(Method::GET, "api/users/me", NoBody).await
    }

    /// Every user's public profile.
    pub async fn users(&self) -> Result<Vec<User>, ApiError> {
        self.authed(Method::GET, "api/users", NoBody).await
    }

    // ---- channels ----

    /// The channels the caller can see, with membership and unread counts.
    pub async fn channels(&self) -> Result<Vec<ChannelListEntry>, ApiError> {
        self.authed(Method::GET, "api/channels", NoBody).await
    }

    /// One channel as the caller sees it.
    pub async fn channel(&self, channel_id: Id) -> Result<ChannelListEntry, ApiError> {
        self.authed(Method::GET, &format!("api/channels/{channel_id}"), NoBody).await
    }

    /// Creates a channel (admins only; others get `forbidden`).
    pub async fn create_channel(&self, req: &CreateChannelRequest) -> Result<Channel, ApiError> {
        self.authed(Method::POST, "api/channels", Json(req)).await
    }

    /// Joins a public channel.
    pub async fn join_channel(&self, channel_id: Id) -> Result<(), ApiError> {
        let _: serde_json::Value =
            self.authed(Method::POST, &format!("api/channels/{channel_id}/join"), NoBody).await?;
        Ok(())
    }

    /// Marks everything up to and including `message_id` as read.
    pub async fn ack(&self, channel_id: Id, message_id: Id) -> Result<ReadState, ApiError> {
        let body = AckRequest { message_id };
        self.authed(Method::POST, &format!("api/channels/{channel_id}/ack"), Json(&body)).await
    }

    // ---- messages ----

    /// A page of a channel's history, newest first; page with `before`/`after` ids.
    pub async fn messages(
        &self,
        channel_id: Id,
        query: &ListMessagesQuery,
    ) -> Result<Vec<Message>, ApiError> {
        self.authed(Method::GET, &format!("api/channels/{channel_id}/messages"), Query(query)).await
    }

    /// Messages matching a query, best first, from the channels the caller may read.
    pub async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, ApiError> {
        self.authed(Method::GET, "api/search", Query(query)).await
    }

    /// Sends a message under a fresh random nonce, retrying on connection failures; the
    /// nonce guarantees a retry never stores it twice.
    pub async fn send_message(&self, channel_id: Id, body: &str) -> Result<Message, ApiError> {
        self.send(channel_id, SendMessageRequest::new(body, None)).await
    }

    /// Sends `req` (a reply, say) like [`Client::send_message`]: under a fresh nonce
    /// unless it names one, retried on connection failures.
    pub async fn send(&self, channel_id: Id, mut req: SendMessageRequest) -> Result<Message, ApiError> {
        req.nonce.get_or_insert_with(new_nonce);
        let mut attempt = 1;
        loop {
            match self.send_message_with(channel_id, &req).await {
                Err(ApiError::Transport { url, source }) if attempt < SEND_ATTEMPTS => {
                    tracing::warn!(%url, error = %source, attempt, "sending failed; retrying with the same nonce");
                    tokio::time::sleep(Duration::from_millis(250 * attempt as u64)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends a message exactly as given (one attempt); with a nonce used before, the
    /// server answers with the message it already stored.
    pub async fn send_message_with(
        &self,
        channel_id: Id,
        req: &SendMessageRequest,
    ) -> Result<Message, ApiError> {
        self.authed(Method::POST, &format!("api/channels/{channel_id}/messages"), Json(req)).await
    }

    /// Uploads a file into a channel, streamed from disk, for a later send's
    /// `attachment_ids`. `len` is the file's size, which the server checks against its
    /// limit before reading it.
    pub async fn upload_attachment(&self, channel_id: Id, file: &FileUpload) -> Result<Attachment, ApiError> {
        self.authed(Method::POST, &format!("api/channels/{channel_id}/attachments"), file).await
    }

    // ---- voice ----

    /// STUN/TURN servers (TURN with short-lived credentials) and the relay policy.
    pub async fn ice_servers(&self) -> Result<IceServersResponse, ApiError> {
        self.authed(Method::GET, "api/voice/ice-servers", NoBody).await
    }

    // ---- plumbing ----

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = self.server.join(path).expect("API paths are relative and valid");
        self.http.request(method, url)
    }

    /// An authenticated call; on a refused access token, refreshes once and retries.
    async fn authed<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: impl Body,
    ) -> Result<T, ApiError> {
        let tokens = self.tokens.as_ref().ok_or(ApiError::NotLoggedIn)?;
        let answer = self
            .fetch_authed(Some(tokens), || body.apply(self.request(method.clone(), path)))
            .await
            .map_err(|(Failed::Token(e) | Failed::Call(e))| e)?;
        answer.decode()
    }

    /// Sends what `build` makes, with an access token when there are `tokens`. When the
    /// server refuses the token itself, the token is refreshed once and the request sent
    /// again: the one refresh-and-retry rule for every call this client makes.
    async fn fetch_authed(
        &self,
        tokens: Option<&TokenSource>,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Answer, Failed> {
        let mut retried = false;
        loop {
            let token = match tokens {
                Some(t) => Some(t.access_token().await.map_err(Failed::Token)?),
                None => None,
            };
            let req = match &token {
                Some(t) => build().bearer_auth(t.expose()),
                None => build(),
            };
            match self.fetch(req).await {
                Err(error) if !retried && error.is_token_refused() => match (tokens, &token) {
                    (Some(tokens), Some(token)) => {
                        tokens.invalidate(token).await;
                        retried = true;
                    }
                    _ => return Err(Failed::Call(error)),
                },
                other => return other.map_err(Failed::Call),
            }
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ApiError> {
        self.fetch(req).await?.decode()
    }

    /// Sends a request; a successful answer comes back as it is, any other status as
    /// the server's `{code, message}` or, failing that, [`ApiError::Unexpected`].
    async fn fetch(&self, req: RequestBuilder) -> Result<Answer, ApiError> {
        let resp = req.send().await.map_err(|source| ApiError::Transport {
            url: source.url().map_or_else(|| self.server.to_string(), |u| u.to_string()),
            source,
        })?;
        let url = resp.url().to_string();
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|source| ApiError::Transport { url: url.clone(), source })?;
        if status.is_success() {
            return Ok(Answer { url, status, bytes });
        }
        match serde_json::from_slice::<cromulent_protocol::ApiError>(&bytes) {
            Ok(body) => Err(ApiError::Server { status: status.as_u16(), body }),
            Err(_) => Err(ApiError::Unexpected {
                url,
                status: status.as_u16(),
                detail: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
            }),
        }
    }
}

/// A successful answer, not yet decoded.
struct Answer {
    url: String,
    status: StatusCode,
    bytes: bytes::Bytes,
}

impl Answer {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes = if self.status == StatusCode::NO_CONTENT || self.bytes.is_empty() {
            &b"null"[..]
        } else {
            &self.bytes
        };
        serde_json::from_slice(bytes).map_err(|e| ApiError::Unexpected {
            url: self.url.clone(),
            status: self.status.as_u16(),
            detail: e.to_string(),
        })
    }
}

/// Where an authenticated request failed: getting an access token (nothing was sent),
/// or the request itself.
enum Failed {
    Token(ApiError),
    Call(ApiError),
}

/// A random nonce, unique per author for all practical purposes (128 bits).
pub fn new_nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// How a request carries its input.
trait Body {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder;
}

struct NoBody;

/// A file to upload: where it is, the name to give it, and its size.
#[derive(Debug, Clone)]
pub struct FileUpload {
    pub path: PathBuf,
    pub filename: String,
    pub len: u64,
}

impl FileUpload {
    /// The file at `path`, named as on disk.
    pub async fn open(path: &Path) -> std::io::Result<Self> {
        let len = tokio::fs::metadata(path).await?.len();
        let filename =
            path.file_name().map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned());
        Ok(Self { path: path.to_owned(), filename, len })
    }
}

impl Body for &FileUpload {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        use futures_util::TryStreamExt;
        // Opened when the body is first read, so a retried request reads it afresh.
        let path = self.path.clone();
        let stream = futures_util::stream::once(async move { tokio::fs::File::open(path).await })
            .map_ok(tokio_util::io::ReaderStream::new)
            .try_flatten();
        let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(stream), self.len)
            .file_name(self.filename.clone());
        req.multipart(reqwest::multipart::Form::new().part("file", part))
    }
}
struct Json<'a, T>(&'a T);
struct Query<'a, T>(&'a T);

impl Body for NoBody {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        req
    }
}

impl<T: Serialize> Body for Json<'_, T> {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        req.json(self.0)
    }
}

impl<T: Serialize> Body for Query<'_, T> {
    fn apply(&self, req: RequestBuilder) -> RequestBuilder {
        req.query(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_address_keeps_only_scheme_host_and_port() {
        let client = Client::new("https://chat.example.test:8443/some/page?x=1").expect("valid");
        assert_eq!(client.server().as_str(), "https://chat.example.test:8443/", "paths would break joins");
        assert!(
            matches!(Client::new("ftp://chat.example.test"), Err(ApiError::InvalidServer { .. })),
            "only http and https reach the API"
        );
    }
}
