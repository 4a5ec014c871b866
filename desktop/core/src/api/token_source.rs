//! Short-lived access tokens traded from the long-lived refresh token, shared by the
//! REST client and the gateway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{ApiError, Client};
use crate::tokens::{RefreshTokenSink, Secret};

/// Refresh early, so a token does not expire between being handed out and being used.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);

/// Hands out access tokens, refreshing them when they expire or the server refuses one.
///
/// Clones share one state. Refreshes are serialized: two callers never spend the same
/// refresh token (the server would take the second use as a theft and end the login).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    sink: Option<Arc<dyn RefreshTokenSink>>,
    state: tokio::sync::Mutex<State>,
}

struct State {
    refresh: Secret,
    access: Option<(Secret, Instant)>,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("server", &self.inner.client.server().as_str()).finish()
    }
}

impl TokenSource {
    /// A source that trades `refresh_token` at `client`'s server. Without a sink the
    /// rotated refresh tokens live only in memory.
    pub fn new(client: &Client, refresh_token: Secret, sink: Option<Box<dyn RefreshTokenSink>>) -> Self {
        TokenSource {
            inner: Arc::new(Inner {
                client: client.without_tokens(),
                sink: sink.map(Arc::from),
                state: tokio::sync::Mutex::new(State { refresh: refresh_token, access: None }),
            }),
        }
    }

    /// A valid access token, refreshed first when there is none or it is about to expire.
    pub async fn access_token(&self) -> Result<Secret, ApiError> {
        let mut state = self.inner.state.lock().await;
        if let Some((token, expires)) = &state.access {
            if Instant::now() + EXPIRY_MARGIN < *expires {
                return Ok(token.clone());
            }
        }
        let refreshed = self.inner.client.refresh(&state.refresh).await?;
        if let Some(sink) = &self.inner.sink {
            // Keyrings answer over D-Bus or syscalls: blocking, so off the async threads.
            let (sink, token) = (sink.clone(), refreshed.refresh_token.clone());
            let saved = tokio::task::spawn_blocking(move || sink.save(&token)).await;
            // The server has already spent the old token; keep going with the new one in
            // memory so this run works, and say loudly that the next start may not.
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(%error, "could not save the rotated refresh token; the next start will ask to log in")
                }
                Err(error) => tracing::error!(%error, "the task saving the rotated refresh token failed"),
            }
        }
        let expires = Instant::now() + refreshed.expires_in;
        state.refresh = refreshed.refresh_token;
        state.access = Some((refreshed.access_token.clone(), expires));
        Ok(refreshed.access_token)
    }

    /// Forgets `stale` (the server refused it), so the next call refreshes. A token that
    /// was already replaced is left alone, so concurrent refusals refresh only once.
    pub async fn invalidate(&self, stale: &Secret) {
        let mut state = self.inner.state.lock().await;
        if state.access.as_ref().is_some_and(|(token, _)| token == stale) {
            state.access = None;
        }
    }

    /// The current refresh token (for logout, which revokes the whole login).
    pub async fn refresh_token(&self) -> Secret {
        self.inner.state.lock().await.refresh.clone()
    }
}
