//! `GET /api/search`: full-text search over the messages the caller may read.

use axum::extract::State;
use cromulent_protocol::limits::{SEARCH_RESULTS_DEFAULT, SEARCH_RESULTS_MAX};
use cromulent_protocol::search::{SearchHit, SearchQuery};
use cromulent_protocol::ApiError;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{page_limit, Json, Query};
use crate::access;
use crate::auth::Caller;
use crate::search::{snippet::snippet, Terms};
use crate::state::AppState;
use crate::store;
use crate::store::search::Search;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Messages matching every word of `q`, best first, from the channels and direct
/// messages the caller may read now (a private channel one was removed from is no
/// longer searched). Each hit has a plain-text snippet with the matching words marked.
#[utoipa::path(get, path = "/api/search", tag = "messages", security(("bearer" = []), ("cookie" = [])),
    params(SearchQuery),
    responses((status = 200, body = Vec<SearchHit>), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 422, body = ApiError), (status = 429, body = ApiError)))]
async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<SearchQuery>,
) -> HttpResult<Json<Vec<SearchHit>>> {
    let terms = Terms::parse(&query.q).map_err(|e| HttpError::invalid("q", e.to_string()))?;
    let limit = page_limit(query.limit, SEARCH_RESULTS_DEFAULT, SEARCH_RESULTS_MAX)?;
    state.throttles.searches_per_user.reserve(&caller.id().to_string()).map_err(HttpError::rate_limited)?;
    let mut conn = state.db.pool().acquire().await?;
    if let Some(channel_id) = query.channel_id {
        // An unknown channel and one the caller may not read answer alike (`404`). The
        // query filters by the same rule anyway; this only tells a mistyped id apart.
        access::visible_channel(&mut conn, &caller, channel_id).await?;
    }
    let search = Search {
        viewer: caller.id(),
        viewer_is_admin: caller.is_admin(),
        terms: &terms,
        channel_id: query.channel_id,
        author_id: query.author_id,
        has: query.has,
        before: query.before,
        after: query.after,
        limit,
    };
    let found = store::search::search(&mut conn, state.db.backend(), &search).await?;
    let (mut messages, scores): (Vec<_>, Vec<_>) = found.into_iter().unzip();
    store::messages::hydrate(&mut conn, &mut messages, caller.id()).await?;
    let hits = messages
        .into_iter()
        .zip(scores)
        .map(|(message, score)| SearchHit {
            channel_id: message.channel_id,
            snippet: snippet(&message.body, &terms),
            score,
            message,
        })
        .collect();
    Ok(Json(hits))
}
