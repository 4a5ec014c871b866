//! Updates of the app itself, offered by the server it is signed in to.
//!
//! The UI asks at start and once a day ([`check`]); an offer is kept here until the user
//! chooses to install it ([`install`]). The Tauri updater does the rest: it asks
//! `<server>/api/desktop/updates/{target}/{arch}/{current_version}` (which may redirect
//! to the community's `DESKTOP_UPDATE_URL`), ignores anything not newer than this build,
//! and installs only a bundle whose minisign signature matches the public key in
//! `tauri.conf.json` and names the version offered (`requireSignedVersion`), so neither
//! the server nor the network can push an unsigned, older or relabelled build.
//!
//! The key is read from the app's configuration only, never from the environment: a
//! variable that swapped it would let anything able to set it install its own builds.
//! Tests that sign with a throwaway key build the app with that key instead
//! (`tauri build --config`, scripts/test-desktop.sh).

use std::sync::Mutex;

use cromulent_client::api::ServerOrigin;
use serde::Serialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_updater::{Update, UpdaterExt};

/// The updater endpoint on a community's server; the updater fills in the variables.
const ENDPOINT_PATH: &str = "api/desktop/updates/{{target}}/{{arch}}/{{current_version}}";

/// A newer version the server offers, as the update prompt shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct UpdateOffer {
    pub version: String,
    pub current_version: String,
    pub notes: String,
}

/// Why a check or an install did not happen. The messages are shown to people.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// Not signed in to any server yet; the UI checks again after sign-in.
    #[error("no server to ask for updates yet")]
    NoServer,
    /// The server could not be asked or gave no usable answer. Retryable (tomorrow's
    /// check does).
    #[error("could not check for updates: {0}")]
    Check(String),
    /// Install was asked for with no offer pending. Not retryable until a check offers one.
    #[error("there is no update to install")]
    NothingOffered,
    /// The downloaded bundle's signature does not match this app's key or the version
    /// offered. Nothing was installed. Not retryable.
    #[error(
        "The update was refused: its signature does not match this app's signing key. \
         Nothing was installed and this version keeps working. Please tell your server's admin."
    )]
    BadSignature,
    /// Download or installation failed; the running app is unchanged. Retryable.
    #[error("the update could not be installed: {0}")]
    Install(String),
}

/// The offer the user last saw, waiting for their say-so.
#[derive(Default)]
pub struct Updates {
    pending: Mutex<Option<Update>>,
}

/// The updater endpoint of `origin`.
pub fn endpoint(origin: &ServerOrigin) -> url::Url {
    origin.url().join(ENDPOINT_PATH).expect("a fixed relative path joins any http(s) origin")
}

/// Asks `origin` whether a newer version exists; remembers it for [`install`].
pub async fn check<R: Runtime>(
    app: &AppHandle<R>,
    updates: &Updates,
    origin: Option<ServerOrigin>,
) -> Result<Option<UpdateOffer>, UpdateError> {
    let origin = origin.ok_or(UpdateError::NoServer)?;
    let failed = |e: tauri_plugin_updater::Error| UpdateError::Check(e.to_string());
    let updater =
        app.updater_builder().endpoints(vec![endpoint(&origin)]).map_err(failed)?.build().map_err(failed)?;
    let update = updater.check().await.map_err(failed)?;
    let offer = update.as_ref().map(|u| UpdateOffer {
        version: u.version.clone(),
        current_version: u.current_version.clone(),
        notes: u.body.clone().unwrap_or_default(),
    });
    *updates.pending.lock().expect("the offer lock is never held across a panic") = update;
    Ok(offer)
}

/// Downloads, verifies and installs the pending offer, then restarts into it. On any
/// failure the running app is left as it was.
pub async fn install<R: Runtime>(app: &AppHandle<R>, updates: &Updates) -> Result<(), UpdateError> {
    let update = updates.pending.lock().expect("the offer lock is never held across a panic").clone();
    let update = update.ok_or(UpdateError::NothingOffered)?;
    tracing::info!(version = %update.version, "installing update");
    update.download_and_install(|_, _| {}, || {}).await.map_err(|e| {
        tracing::warn!(error = %e, version = %update.version, "update not installed");
        refusal(e)
    })?;
    app.restart()
}

fn refusal(e: tauri_plugin_updater::Error) -> UpdateError {
    use tauri_plugin_updater::Error as E;
    match e {
        E::Minisign(_)
        | E::Base64(_)
        | E::SignatureUtf8(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => UpdateError::BadSignature,
        other => UpdateError::Install(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_the_servers_own_with_the_updaters_variables() {
        let origin = ServerOrigin::parse("https://chat.example.test:8443").expect("origin");
        assert_eq!(
            endpoint(&origin).as_str(),
            "https://chat.example.test:8443/api/desktop/updates/%7B%7Btarget%7D%7D/%7B%7Barch%7D%7D/%7B%7Bcurrent_version%7D%7D",
            "the updater replaces the variables in this encoded form too"
        );
    }

    #[test]
    fn a_signature_that_does_not_verify_is_a_refusal_not_a_retry() {
        let mismatch = tauri_plugin_updater::Error::SignedVersionMismatch {
            signed: "1.0.0".into(),
            announced: "2.0.0".into(),
        };
        assert!(matches!(refusal(mismatch), UpdateError::BadSignature));
        assert!(matches!(
            refusal(tauri_plugin_updater::Error::MissingSignedVersion),
            UpdateError::BadSignature
        ));
        let network = tauri_plugin_updater::Error::Network("status 500".into());
        assert!(matches!(refusal(network), UpdateError::Install(_)));
    }
}
