//! Extractors that answer bad input with our error shape instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cromulent_protocol::ErrorCode;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::HttpError;
use crate::state::AppState;

/// JSON in and out. A body must be a JSON object of the expected shape; anything else
/// is `malformed_request`, a wrong content type `unsupported_media_type`, and a body
/// over the limit `payload_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(HttpError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    ErrorCode::PayloadTooLarge,
                    "the body is too large",
                )
            } else {
                HttpError::malformed(rejection.body_text())
            }
        })?;
        // serde would also read a struct from a JSON array (`[true]`); our bodies are
        // objects, so anything else is refused before it can be misread.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(HttpError::malformed("the body must be a JSON object"));
        }
        serde_json::from_slice(&bytes)
            .map(Json)
            .map_err(|e| HttpError::malformed(format!("invalid JSON body: {e}")))
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters; an id that is not a number is a `malformed_request`.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| HttpError::malformed(e.body_text()))
    }
}

/// Query strings, with the same error shape.
#[derive(Debug, Clone, Copy)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| HttpError::malformed(e.body_text()))
    }
}

/// A page size from a query's `limit`: `default` when absent, refused outside `1..=max`.
pub fn page_limit(raw: Option<u32>, default: u32, max: u32) -> Result<u32, HttpError> {
    match raw {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(HttpError::invalid("limit", format!("limit is 1 to {max}"))),
    }
}

/// The client's address: the connection's peer, or the client a trusted reverse proxy
/// forwarded (`TRUSTED_PROXIES`). `None` only when the listener records no peer
/// (requests handed to the router directly, as some tests do).
#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<String>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(state.client_ip(&parts.headers, &parts.extensions).map(|ip| ip.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::page_limit;

    #[test]
    fn page_sizes_default_and_are_bounded() {
        assert_eq!(page_limit(None, 50, 100).expect("default"), 50);
        assert_eq!(page_limit(Some(100), 50, 100).expect("max"), 100);
        assert!(page_limit(Some(0), 50, 100).is_err(), "an empty page is a client bug");
        assert!(page_limit(Some(101), 50, 100).is_err());
    }
}
