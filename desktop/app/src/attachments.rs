//! Files for messages: the native file dialog, and the uploads and downloads the UI
//! cannot make itself because the token stays here (`cromulent_client::api::raw`).
//!
//! The dialog is opened from Rust, not from JavaScript, so the UI gets no dialog or
//! file-system permission at all: it can read a file only after the person chose it in
//! the dialog, once, by the number [`attachment_pick`] gave it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cromulent_client::account::Accounts;
use cromulent_client::api::{CallFailure, Upload};
use serde::Serialize;
use tauri::ipc::{InvokeBody, Request, Response};
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::DialogExt;

/// Files chosen in the dialog and not read yet, by the number the UI was given.
#[derive(Default)]
pub struct Picked {
    next: AtomicU64,
    files: Mutex<HashMap<u64, PathBuf>>,
}

/// A file the person chose: the UI shows it at once and reads it with [`attachment_read`].
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export_to = "bridge/"))]
pub struct PickedFile {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: u64,
    pub name: String,
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub size: u64,
}

impl Picked {
    /// Keeps the newest choice only: an earlier one the UI never read is forgotten.
    fn replace(&self, paths: Vec<PathBuf>) -> Vec<PickedFile> {
        let mut files = self.files.lock().expect("no panic while holding the picked files");
        files.clear();
        paths
            .into_iter()
            .filter_map(|path| {
                let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file())?;
                let name = path.file_name()?.to_string_lossy().into_owned();
                let id = self.next.fetch_add(1, Ordering::Relaxed);
                files.insert(id, path);
                Some(PickedFile { id, name, size: meta.len() })
            })
            .collect()
    }

    fn take(&self, id: u64) -> Option<PathBuf> {
        self.files.lock().expect("no panic while holding the picked files").remove(&id)
    }
}

/// Opens the native file dialog; an empty list when it was cancelled.
#[tauri::command]
pub async fn attachment_pick<R: Runtime>(
    app: AppHandle<R>,
    picked: State<'_, Arc<Picked>>,
) -> Result<Vec<PickedFile>, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title("Attach files").pick_files(move |paths| {
        let _ = tx.send(paths);
    });
    let paths = rx.await.map_err(|_| "the file dialog closed without an answer")?.unwrap_or_default();
    let paths = paths.into_iter().filter_map(|p| p.into_path().ok()).collect();
    Ok(picked.replace(paths))
}

/// The bytes of a file chosen in the dialog, once.
#[tauri::command]
pub async fn attachment_read(picked: State<'_, Arc<Picked>>, id: u64) -> Result<Response, String> {
    let path = picked.take(id).ok_or("that file was not chosen in the file dialog")?;
    let bytes = tokio::fs::read(&path).await.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Response::new(bytes))
}

/// Uploads the request's raw body as one file. Its header `upload` carries, as a URL
/// query (names may be any Unicode; headers may not), `server`, `path`, `filename` and
/// `content_type`.
#[tauri::command]
pub async fn attachment_upload(
    accounts: State<'_, Arc<Accounts>>,
    request: Request<'_>,
) -> Result<serde_json::Value, CallFailure> {
    // Nothing was sent: a mistake of the UI's, as `CallFailure` words those.
    let bad = |what: &str| CallFailure { status: 0, body: None, message: what.to_owned(), refused: None };
    let InvokeBody::Raw(bytes) = request.body() else {
        return Err(bad("the file must be sent as raw bytes"));
    };
    let meta = request.headers().get("upload").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let fields: HashMap<String, String> = tauri::Url::parse(&format!("upload:?{meta}"))
        .map_err(|_| bad("a malformed upload header"))?
        .query_pairs()
        .into_owned()
        .collect();
    let field =
        |name: &str| fields.get(name).cloned().ok_or_else(|| bad(&format!("the upload names no {name}")));
    let file = Upload {
        filename: field("filename")?,
        content_type: field("content_type").unwrap_or_default(),
        bytes: bytes.clone().into(),
    };
    accounts.api_client(&field("server")?).await?.upload_raw(&field("path")?, &file).await
}

/// An attachment's (or thumbnail's) bytes, fetched with the login's token.
#[tauri::command]
pub async fn attachment_fetch(
    accounts: State<'_, Arc<Accounts>>,
    server: String,
    path: String,
) -> Result<Response, CallFailure> {
    let bytes = accounts.api_client(&server).await?.fetch_raw(&path).await?;
    Ok(Response::new(bytes.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_only_once_and_only_from_the_newest_choice() {
        let dir = std::env::temp_dir().join(format!("cromulent-picked-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let a = dir.join("a.txt");
        let b = dir.join("b.txt");
        std::fs::write(&a, "aaa").expect("write a");
        std::fs::write(&b, "b").expect("write b");
        let picked = Picked::default();

        let first = picked.replace(vec![a.clone(), dir.clone()]);
        assert_eq!(first.len(), 1, "a folder is no file to attach");
        assert_eq!((first[0].name.as_str(), first[0].size), ("a.txt", 3));
        let second = picked.replace(vec![b.clone()]);
        assert_eq!(picked.take(first[0].id), None, "an older choice is forgotten");
        assert_eq!(picked.take(second[0].id), Some(b), "the newest choice is there");
        assert_eq!(picked.take(second[0].id), None, "and read once");
        let _ = std::fs::remove_dir_all(dir);
    }
}
