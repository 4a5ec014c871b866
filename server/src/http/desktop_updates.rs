//! The desktop app's updater endpoint and the bundles it points to.
//!
//! `GET /api/desktop/updates/{target}/{arch}/{current_version}` speaks the Tauri
//! updater's protocol: `204` when nothing newer is installed for that target and arch
//! (also for a target this server publishes nothing for, so such an app just stays as
//! it is), the release JSON when something is. With `DESKTOP_UPDATE_URL` set it
//! redirects there instead, so a community can publish its releases elsewhere without
//! the apps knowing. Both routes are public: bundles are signed, and the app checks the
//! signature, not the server. They stay out of the OpenAPI document, which describes
//! the API for clients; this one is the updater's, whose format Tauri defines.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::releases::{self, Releases};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/desktop/updates/{target}/{arch}/{current_version}", get(check_update))
        .route("/api/desktop/releases/{target}/{arch}/{version}/{file}", get(download_bundle))
}

/// What the Tauri updater reads from a dynamic update server.
#[derive(Debug, Serialize)]
struct UpdateOffer {
    version: String,
    notes: String,
    pub_date: Option<String>,
    url: String,
    signature: String,
}

/// The newest release above `current_version`, or `204`.
async fn check_update(
    State(state): State<AppState>,
    Path((target, arch, current)): Path<(String, String, String)>,
) -> HttpResult<Response> {
    let target = releases::word(&target, "target").map_err(bad_name)?;
    let arch = releases::word(&arch, "arch").map_err(bad_name)?;
    let current = releases::version(&current).map_err(bad_name)?;
    if let Some(elsewhere) = &state.config.desktop_update_url {
        let location = elsewhere
            .replace("{{target}}", &target)
            .replace("{{arch}}", &arch)
            .replace("{{current_version}}", &percent_encode(&current.to_string()));
        return Ok((StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)]).into_response());
    }
    let releases = Releases::new(&state.config.data_dir);
    let Some(release) = releases.newer_than(&target, &arch, &current).await else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let url = format!(
        "{}/api/desktop/releases/{target}/{arch}/{}/{}",
        state.public_url,
        release.version,
        percent_encode(&release.manifest.bundle)
    );
    Ok(Json(UpdateOffer {
        version: release.version.to_string(),
        notes: release.manifest.notes,
        pub_date: release.manifest.pub_date,
        url,
        signature: release.signature,
    })
    .into_response())
}

/// A release's bundle, with ranges (a resumed download) and a type from its extension.
async fn download_bundle(
    State(state): State<AppState>,
    Path((target, arch, version, file)): Path<(String, String, String, String)>,
    request: Request,
) -> HttpResult<Response> {
    let target = releases::word(&target, "target").map_err(bad_name)?;
    let arch = releases::word(&arch, "arch").map_err(bad_name)?;
    let version = releases::version(&version).map_err(bad_name)?;
    let release = Releases::new(&state.config.data_dir)
        .installed(&target, &arch, &version)
        .await
        // Only the bundle the manifest names: never the manifest, the signature or
        // anything else that may sit in the folder.
        .filter(|r| r.manifest.bundle == file)
        .ok_or_else(|| HttpError::not_found("release bundle"))?;
    let served = ServeFile::new(&release.bundle_path).oneshot(request).await;
    match served {
        Ok(response) => Ok(response.into_response()),
        Err(never) => match never {},
    }
}

fn bad_name(e: releases::BadName) -> HttpError {
    HttpError::malformed(e.to_string())
}

/// Everything but unreserved characters, so a file name is one path segment.
fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
