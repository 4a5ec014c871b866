//! Link previews: the server fetches a page for a signed-in user and returns its Open
//! Graph summary, when the `link_previews` feature flag is on.

use axum::extract::State;
use axum::http::StatusCode;
use cromulent_protocol::message::{LinkPreview, LinkPreviewQuery};
use cromulent_protocol::{ApiError, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Query};
use crate::auth::Caller;
use crate::link_preview::PreviewError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_link_preview))
}

/// The preview of an http(s) page. Addresses off the public internet are refused
/// (403 `forbidden`) before any connection; pages that are not HTML, too slow or
/// unreachable are 422 `validation_failed` on `url`.
#[utoipa::path(get, path = "/api/link_preview", tag = "link_previews", params(LinkPreviewQuery),
    security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = LinkPreview), (status = 401, body = ApiError), (status = 403, body = ApiError),
        (status = 422, body = ApiError)))]
async fn get_link_preview(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<LinkPreviewQuery>,
) -> HttpResult<Json<LinkPreview>> {
    if !state.feature_flags().await?.link_previews {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::FeatureDisabled,
            "link previews are switched off on this server",
        ));
    }
    match state.link_previews.preview(&query.url).await {
        Ok(preview) => Ok(Json(preview)),
        Err(err) => {
            tracing::debug!(by = %caller.id(), error = %err, "no link preview");
            Err(match err {
                PreviewError::BlockedAddress => HttpError::forbidden(err.to_string()),
                _ => HttpError::invalid("url", err.to_string()),
            })
        }
    }
}
