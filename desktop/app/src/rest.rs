//! The UI's REST calls, made in Rust with the access token attached, so no token ever
//! reaches JavaScript. Calls that would hand tokens out are refused here, and so are
//! calls to anywhere but the configured server ([`ServerOrigin`]).

use cromulent_client::api::{OriginError, ServerOrigin};
use cromulent_protocol::ErrorCode;
use serde::Serialize;

use crate::account::Session;

/// A request as the UI names it: `GET /api/channels`, with an optional JSON body.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ApiCall {
    pub method: String,
    /// Path and query, starting with `/api/`.
    pub path: String,
    #[serde(default)]
    pub body: Option<serde_json::Value>,
}

/// What the UI gets on failure; `desktop-ui`'s `BackendError` is built from it.
#[derive(Debug, Clone, Serialize)]
pub struct CallFailure {
    /// HTTP status, 0 when the server was not reached.
    pub status: u16,
    /// The server's `{code, message, field}` body, when it sent one.
    pub body: Option<cromulent_protocol::ApiError>,
    pub message: String,
    /// Set when the app refused the call without sending anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// Why the app refused a call itself. None is retryable: the call must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// A method, path or endpoint the proxy does not make.
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

/// Endpoints whose answers carry tokens, or that create cookie sessions the app has no
/// use for: the app does these itself, natively.
const NATIVE_ONLY: &[&str] =
    &["/api/auth/login", "/api/auth/refresh", "/api/auth/verify", "/api/auth/logout", "/api/auth/session"];

/// Checks that a call is one the UI may make through the proxy.
pub fn allowed(call: &ApiCall) -> Result<reqwest::Method, CallFailure> {
    let method = match call.method.to_ascii_uppercase().as_str() {
        "GET" => reqwest::Method::GET,
        "POST" => reqwest::Method::POST,
        "PATCH" => reqwest::Method::PATCH,
        "PUT" => reqwest::Method::PUT,
        "DELETE" => reqwest::Method::DELETE,
        other => {
            return Err(CallFailure::refused(Refusal::NotProxied, format!("method {other} is not proxied")))
        }
    };
    let route = call.path.split(['?', '#']).next().unwrap_or_default();
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

/// Makes the call against `server`, authenticated when `session` is a login on that same
/// server. On a refused access token it refreshes once and retries, like the core's
/// client.
pub async fn call(
    http: &reqwest::Client,
    server: &ServerOrigin,
    session: Option<&Session>,
    call: &ApiCall,
) -> Result<serde_json::Value, CallFailure> {
    let method = allowed(call)?;
    let url = server.api_url(&call.path)?;
    // The token belongs to the server it came from and is only sent there.
    let session = session.filter(|s| ServerOrigin::of(s.client.server()).as_ref() == Some(server));
    let mut retried = false;
    loop {
        let mut req = http.request(method.clone(), url.clone()).header("Accept", "application/json");
        let token = match session {
            Some(s) => Some(s.tokens().access_token().await.map_err(|e| CallFailure::local(e.to_string()))?),
            None => None,
        };
        if let Some(t) = &token {
            req = req.bearer_auth(t.expose());
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|_| CallFailure::local("cannot reach the server"))?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(|_| CallFailure::local("the connection broke"))?;
        if (200..300).contains(&status) {
            return Ok(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null));
        }
        let body = serde_json::from_slice::<cromulent_protocol::ApiError>(&bytes).ok();
        let expired =
            matches!(body.as_ref().map(|b| b.code), Some(ErrorCode::TokenExpired | ErrorCode::Unauthorized));
        if let (Some(s), Some(t), true, false) = (session, &token, status == 401 && expired, retried) {
            s.tokens().invalidate(t).await;
            retried = true;
            continue;
        }
        let message =
            body.as_ref().map_or_else(|| format!("the server answered {status}"), |b| b.message.clone());
        return Err(CallFailure { status, body, message, refused: None });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(method: &str, path: &str) -> ApiCall {
        ApiCall { method: method.into(), path: path.into(), body: None }
    }

    #[test]
    fn ordinary_api_calls_pass() {
        assert!(allowed(&api("GET", "/api/channels")).is_ok());
        assert!(allowed(&api("post", "/api/channels/5/messages")).is_ok());
        assert!(allowed(&api("GET", "/api/link_preview?url=https%3A%2F%2Fexample.org")).is_ok());
    }

    #[test]
    fn calls_that_hand_out_tokens_are_refused() {
        // Their answers carry refresh or access tokens, which must never reach JavaScript.
        for path in ["/api/auth/login", "/api/auth/refresh", "/api/auth/refresh/", "/api/auth/verify?x=1"] {
            assert!(allowed(&api("POST", path)).is_err(), "{path} must not be proxied");
        }
    }

    #[test]
    fn calls_to_another_origin_are_refused_with_a_type_the_ui_reads() {
        let configured = ServerOrigin::parse("https://chat.example").expect("a server address");
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
        assert!(allowed(&api("GET", "//evil.example/api/x")).is_err());
        assert!(allowed(&api("GET", "/api/../admin")).is_err());
        assert!(allowed(&api("GET", "http://evil.example/api/x")).is_err());
        assert!(allowed(&api("CONNECT", "/api/channels")).is_err());
    }
}
