//! REST calls named by method and path, as a UI that must never hold tokens makes them
//! (the desktop app's `api` command): only under `/api/` on the client's own server,
//! never to the endpoints whose answers carry tokens, answered as JSON or as a
//! [`CallFailure`] the UI turns into its own error. Files go the same way: an upload
//! the UI hands over as bytes ([`Client::upload_raw`]) and an attachment's bytes
//! ([`Client::fetch_raw`]), since the UI cannot send the token an image request needs.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::{ApiError, Client, OriginError};

/// A request as the UI names it: `GET /api/channels`, with an optional JSON body.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct ApiCall {
    pub method: String,
    /// Path and query, starting with `/api/`.
    pub path: String,
    /// Any JSON value.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "unknown"))]
    pub body: Option<serde_json::Value>,
}

/// What the UI gets when a call fails; `desktop-ui`'s `BackendError` is built from it.
#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
#[error("{message}")]
pub struct CallFailure {
    /// HTTP status, 0 when the server was not reached (retryable) or nothing was sent.
    pub status: u16,
    /// The server's `{code, message, field}` body, when it sent one.
    pub body: Option<cromulent_protocol::ApiError>,
    pub message: String,
    /// Set when the call was refused here, without sending anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub refused: Option<Refusal>,
}

/// Why a call was refused before anything was sent. None is retryable: the call must
/// change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// A method, path or endpoint that is not made for the UI.
    NotProxied,
    /// Not the configured server, or not a plain server address.
    OtherServer,
    /// No server is configured yet.
    NoServer,
}

impl CallFailure {
    fn local(message: impl Into<String>) -> Self {
        Self { status: 0, body: None, message: message.into(), refused: None }
    }

    fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        Self { refused: Some(refusal), ..Self::local(message) }
    }
}

impl From<OriginError> for CallFailure {
    fn from(e: OriginError) -> Self {
        let refusal = match e {
            OriginError::NotConfigured => Refusal::NoServer,
            OriginError::BadPath { .. } => Refusal::NotProxied,
            _ => Refusal::OtherServer,
        };
        Self::refused(refusal, e.to_string())
    }
}

impl From<ApiError> for CallFailure {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Server { status, body } => {
                Self { status, message: body.message.clone(), body: Some(body), refused: None }
            }
            ApiError::Unexpected { status, .. } => {
                Self { status, body: None, message: format!("the server answered {status}"), refused: None }
            }
            ApiError::Transport { .. } => Self::local("cannot reach the server"),
            other => Self::local(other.to_string()),
        }
    }
}

/// Endpoints whose answers carry tokens, or that create cookie sessions the app has no
/// use for: the app does these itself, natively.
const NATIVE_ONLY: &[&str] =
    &["/api/auth/login", "/api/auth/refresh", "/api/auth/verify", "/api/auth/logout", "/api/auth/session"];

impl ApiCall {
    /// The method, when this is a call the UI may make at all.
    pub fn allowed(&self) -> Result<Method, CallFailure> {
        let method = match self.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PATCH" => Method::PATCH,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            other => {
                return Err(CallFailure::refused(
                    Refusal::NotProxied,
                    format!("method {other} is not proxied"),
                ))
            }
        };
        let route = self.path.split(['?', '#']).next().unwrap_or_default();
        if !route.starts_with("/api/") || route.contains("..") || route.contains("//") {
            return Err(CallFailure::refused(Refusal::NotProxied, format!("{route} is not an API path")));
        }
        if NATIVE_ONLY.iter().any(|p| route.trim_end_matches('/') == *p) {
            return Err(CallFailure::refused(
                Refusal::NotProxied,
                format!("{route} is handled by the app itself"),
            ));
        }
        Ok(method)
    }
}

impl Client {
    /// Makes `call` on this client's server, authenticated when logged in (refreshing
    /// once on a refused access token, as every call does). A successful answer that is
    /// not JSON reads as `null`.
    pub async fn call_raw(&self, call: &ApiCall) -> Result<serde_json::Value, CallFailure> {
        let method = call.allowed()?;
        let url = self.origin().api_url(&call.path)?;
        let build = || {
            let req = self.http.request(method.clone(), url.clone()).header("Accept", "application/json");
            match &call.body {
                Some(body) => req.json(body),
                None => req,
            }
        };
        match self.fetch_authed(self.tokens.as_ref(), build).await {
            Ok(answer) => Ok(serde_json::from_slice(&answer.bytes).unwrap_or(serde_json::Value::Null)),
            // No access token to be had: nothing was sent.
            Err(super::Failed::Token(e)) => Err(CallFailure::local(e.to_string())),
            Err(super::Failed::Call(e)) => Err(e.into()),
        }
    }
}

/// How long an upload may take: a large file over a slow uplink takes longer than an
/// ordinary call may.
const UPLOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// One file the UI uploads: its name and type as the UI knows them, and its bytes.
#[derive(Debug, Clone)]
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub bytes: bytes::Bytes,
}

impl Upload {
    /// The form part, made again for a retry after a token refresh (cloning `Bytes`
    /// copies nothing).
    fn part(&self) -> reqwest::multipart::Part {
        let part = || {
            let body = reqwest::Body::from(self.bytes.clone());
            reqwest::multipart::Part::stream_with_length(body, self.bytes.len() as u64)
                .file_name(self.filename.clone())
        };
        // The UI's type is only a hint (the server reads the bytes): a malformed one is left out.
        part().mime_str(&self.content_type).unwrap_or_else(|_| part())
    }
}

impl Client {
    /// Uploads `file` as `multipart/form-data` (one part, `file`) with `POST` to `path`,
    /// checked as [`Client::call_raw`] checks its path; answers the server's JSON.
    pub async fn upload_raw(&self, path: &str, file: &Upload) -> Result<serde_json::Value, CallFailure> {
        let call = ApiCall { method: "POST".into(), path: path.to_owned(), body: None };
        call.allowed()?;
        let url = self.origin().api_url(path)?;
        let build = || {
            self.http
                .post(url.clone())
                .header("Accept", "application/json")
                .timeout(UPLOAD_TIMEOUT)
                .multipart(reqwest::multipart::Form::new().part("file", file.part()))
        };
        match self.fetch_authed(self.tokens.as_ref(), build).await {
            Ok(answer) => Ok(serde_json::from_slice(&answer.bytes).unwrap_or(serde_json::Value::Null)),
            Err(super::Failed::Token(e)) => Err(CallFailure::local(e.to_string())),
            Err(super::Failed::Call(e)) => Err(e.into()),
        }
    }

    /// The bytes at `path` on this client's server (an attachment or its thumbnail),
    /// fetched with the login's token.
    pub async fn fetch_raw(&self, path: &str) -> Result<bytes::Bytes, CallFailure> {
        let call = ApiCall { method: "GET".into(), path: path.to_owned(), body: None };
        call.allowed()?;
        let url = self.origin().api_url(path)?;
        let build = || self.http.get(url.clone()).timeout(UPLOAD_TIMEOUT);
        match self.fetch_authed(self.tokens.as_ref(), build).await {
            Ok(answer) => Ok(answer.bytes),
            Err(super::Failed::Token(e)) => Err(CallFailure::local(e.to_string())),
            Err(super::Failed::Call(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cromulent_protocol::ErrorCode;

    fn api(method: &str, path: &str) -> ApiCall {
        ApiCall { method: method.into(), path: path.into(), body: None }
    }

    #[test]
    fn ordinary_api_calls_pass() {
        assert!(api("GET", "/api/channels").allowed().is_ok());
        assert!(api("post", "/api/channels/5/messages").allowed().is_ok());
        assert!(api("GET", "/api/link_preview?url=https%3A%2F%2Fexample.org").allowed().is_ok());
    }

    #[test]
    fn calls_that_hand_out_tokens_are_refused() {
        // Their answers carry refresh or access tokens, which must never reach JavaScript.
        for path in ["/api/auth/login", "/api/auth/refresh", "/api/auth/refresh/", "/api/auth/verify?x=1"] {
            assert!(api("POST", path).allowed().is_err(), "{path} must not be proxied");
        }
    }

    #[test]
    fn calls_to_another_origin_are_refused_with_a_type_the_ui_reads() {
        let configured = super::super::ServerOrigin::parse("https://chat.example").expect("a server address");
        for other in ["https://chat.example@evil.example", "https://evil.example", "//evil.example"] {
            let failure = CallFailure::from(configured.check(other).expect_err("another origin"));
            assert_eq!(failure.refused, Some(Refusal::OtherServer), "{other} is another server");
            assert_eq!(failure.status, 0, "{other}: nothing was sent");
            let json = serde_json::to_value(&failure).expect("serializes");
            assert_eq!(json["refused"], "other_server", "the name the UI and the end-to-end test read");
        }
        let failure = CallFailure::from(OriginError::NotConfigured);
        assert_eq!(failure.refused, Some(Refusal::NoServer), "no server chosen yet");
    }

    #[test]
    fn only_api_paths_on_the_chosen_server() {
        // The access token is attached: it must not travel to another path or host.
        assert!(api("GET", "//evil.example/api/x").allowed().is_err());
        assert!(api("GET", "/api/../admin").allowed().is_err());
        assert!(api("GET", "http://evil.example/api/x").allowed().is_err());
        assert!(api("CONNECT", "/api/channels").allowed().is_err());
    }

    #[test]
    fn server_failures_keep_their_status_and_code_for_the_ui() {
        let body = cromulent_protocol::ApiError::new(ErrorCode::Forbidden, "not yours");
        let failure = CallFailure::from(ApiError::Server { status: 403, body: body.clone() });
        assert_eq!(
            (failure.status, failure.body.as_ref(), failure.message.as_str()),
            (403, Some(&body), "not yours")
        );
        let failure =
            CallFailure::from(ApiError::Unexpected { url: "u".into(), status: 502, detail: "<html>".into() });
        assert_eq!(failure.message, "the server answered 502", "no proxy page text reaches the UI");
        assert_eq!(failure.refused, None, "the server answered: nothing was refused here");
    }

    /// A server that answers each request line (`GET /api/x`) with what `answer` says,
    /// given how many requests came before; returns its address and the lines it saw.
    async fn fake_server(
        answer: fn(&str, usize) -> (u16, &'static str),
    ) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let address = format!("http://{}", listener.local_addr().expect("bound"));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // Heads only: the calls made here carry no body.
                while !String::from_utf8_lossy(&request).contains("\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(n @ 1..) => request.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let line = text
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .rsplit_once(' ')
                    .map_or("", |(l, _)| l)
                    .to_owned();
                let count = {
                    let mut seen = log.lock().expect("not poisoned");
                    seen.push(line.clone());
                    seen.len() - 1
                };
                let (status, body) = answer(&line, count);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        });
        (address, seen)
    }

    #[tokio::test]
    async fn a_refused_access_token_is_refreshed_once_and_the_call_made_again() {
        let (server, seen) = fake_server(|line, count| match (line, count) {
            ("POST /api/auth/refresh", _) => {
                (200, r#"{"access_token":"fresh","refresh_token":"next","expires_in":900}"#)
            }
            // The first try of the call: the server has just expired the token.
            ("GET /api/channels", 1) => (401, r#"{"code":"token_expired","message":"expired"}"#),
            ("GET /api/channels", _) => (200, "[]"),
            _ => (404, r#"{"code":"not_found","message":"no"}"#),
        })
        .await;
        let client = Client::new(&server).expect("a server address");
        let client = client.with_tokens(super::super::TokenSource::new(&client, "refresh".into(), None));
        let answer = client.call_raw(&api("GET", "/api/channels")).await.expect("the retry passes");
        assert_eq!(answer, serde_json::json!([]), "the second answer is the UI's");
        let seen = seen.lock().expect("not poisoned").clone();
        assert_eq!(
            seen,
            ["POST /api/auth/refresh", "GET /api/channels", "POST /api/auth/refresh", "GET /api/channels"],
            "one refresh after the refusal, one retry, nothing more"
        );
    }

    #[tokio::test]
    async fn logged_out_calls_carry_no_token_and_keep_the_servers_refusal() {
        let (server, seen) = fake_server(|_, _| (401, r#"{"code":"unauthorized","message":"log in"}"#)).await;
        let failure = Client::new(&server)
            .expect("a server address")
            .call_raw(&api("GET", "/api/users/me"))
            .await
            .expect_err("refused");
        assert_eq!((failure.status, failure.message.as_str()), (401, "log in"), "the server's own answer");
        assert_eq!(failure.body.map(|b| b.code), Some(ErrorCode::Unauthorized));
        assert_eq!(seen.lock().expect("not poisoned").len(), 1, "no refresh without a login, no retry");
    }

    #[tokio::test]
    async fn files_go_only_to_api_paths_on_the_chosen_server() {
        let (server, seen) = fake_server(|_, _| (200, "{}")).await;
        let client = Client::new(&server).expect("a server address");
        let file = Upload { filename: "a.txt".into(), content_type: "text/plain".into(), bytes: "a".into() };
        for path in [
            "/upload",
            "//evil.example/api/x",
            "/api/../admin",
            "http://evil.example/api/channels/1/attachments",
        ] {
            let refused = client.upload_raw(path, &file).await.expect_err("not an API path here");
            assert_eq!(refused.refused, Some(Refusal::NotProxied), "{path}: the token must not go there");
            let refused = client.fetch_raw(path).await.expect_err("not an API path here");
            assert_eq!(refused.refused, Some(Refusal::NotProxied), "{path}: the token must not go there");
        }
        assert!(seen.lock().expect("not poisoned").is_empty(), "nothing was sent");
    }

    #[tokio::test]
    async fn an_attachments_bytes_come_back_as_they_are() {
        let (server, seen) = fake_server(|line, _| match line {
            "GET /api/attachments/7/notes.txt" => (200, "plain bytes, not JSON"),
            _ => (404, r#"{"code":"not_found","message":"no"}"#),
        })
        .await;
        let client = Client::new(&server).expect("a server address");
        let bytes = client.fetch_raw("/api/attachments/7/notes.txt").await.expect("served");
        assert_eq!(&bytes[..], b"plain bytes, not JSON", "bytes are not decoded as JSON");
        let missing = client.fetch_raw("/api/attachments/8/gone.txt").await.expect_err("not there");
        assert_eq!(missing.status, 404, "the server's refusal reaches the UI");
        assert_eq!(seen.lock().expect("not poisoned").len(), 2);
    }
}
