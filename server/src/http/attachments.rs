//! `POST /api/channels/{id}/attachments` (upload one file) and
//! `GET /api/attachments/{id}/{key}[/thumbnail]` (download it).
//!
//! Uploads stream through a spool file with the size limit counted on the way
//! ([`crate::attachments::spool`]); nothing holds a whole file in memory. Downloads are
//! refused (404, like a file that never existed) unless the caller may read the channel
//! now, and are served so the browser never runs them: `nosniff`, a sandboxing CSP, and
//! `Content-Disposition: attachment` for everything but the image types we checked.

use axum::body::Body;
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use cromulent_protocol::attachment::Attachment;
use cromulent_protocol::limits::ATTACHMENT_FILENAME_MAX_CHARS;
use cromulent_protocol::{ApiError, ErrorCode, Id};
use rand::RngCore;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::{HttpError, HttpResult};
use super::extract::{Json, Path};
use crate::access::{self, Denied};
use crate::attachments::spool::{self, Spool, SpoolError};
use crate::attachments::{KeepError, PLAIN_FILE_TYPE};
use crate::auth::Caller;
use crate::ids::now_ms;
use crate::state::AppState;
use crate::store::attachments::AttachmentRow;
use crate::store::{self, Conn};

/// Room for the multipart framing around the file when judging `Content-Length`.
const MULTIPART_OVERHEAD_BYTES: u64 = 64 * 1024;

/// What file responses may do in a browser: nothing. `sandbox` gives an opened HTML or
/// SVG file a unique origin with no scripts; `default-src 'none'` lets it load nothing.
const FILE_CSP: &str = "sandbox; default-src 'none'";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        // Uploads are bounded by ATTACHMENT_MAX_BYTES while streaming, not by the API's
        // JSON body limit.
        .routes(routes!(upload_attachment))
        .layer(DefaultBodyLimit::disable())
        .merge(OpenApiRouter::new().routes(routes!(get_attachment)).routes(routes!(get_attachment_thumbnail)))
}

/// The multipart body of an upload: one part named `file`, with a file name.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the multipart body in the API document; never built")]
struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload one file into a channel the caller may write in. It stays the caller's until a
/// message of theirs in this channel names it in `attachment_ids` (within a day).
/// Images (PNG, JPEG, GIF, WebP, recognised by their bytes) get their size, a thumbnail,
/// and lose their metadata (EXIF with GPS, XMP, comments); every other file is stored
/// as `application/octet-stream`, whatever type the client gave.
#[utoipa::path(post, path = "/api/channels/{id}/attachments", tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "channel id")),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = Attachment), (status = 400, body = ApiError), (status = 403, body = ApiError),
        (status = 404, body = ApiError), (status = 413, body = ApiError, description = "larger than ATTACHMENT_MAX_BYTES"),
        (status = 415, body = ApiError), (status = 422, body = ApiError, description = "an image that cannot be read or has too many pixels"),
        (status = 429, body = ApiError)))]
async fn upload_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path(channel_id): Path<Id>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> HttpResult<(StatusCode, Json<Attachment>)> {
    let attachments = &state.attachments;
    let max = attachments.config.attachment_max_bytes;
    {
        let mut conn = state.db.pool().acquire().await?;
        let access = access::visible_channel(&mut conn, &caller, channel_id).await?;
        access.ensure_can_post(&caller)?;
        access::ensure_not_timed_out(&mut conn, &caller).await?;
        access::ensure_not_blocked(&mut conn, &caller, &access).await?;
    }
    attachments.uploads_per_user.reserve(&caller.id().to_string()).map_err(HttpError::rate_limited)?;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max.saturating_add(MULTIPART_OVERHEAD_BYTES)) {
        return Err(too_large(max));
    }
    let mut multipart = multipart.map_err(|_| {
        HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the file as multipart/form-data, in a part named file",
        )
    })?;
    let mut field = loop {
        match multipart.next_field().await.map_err(malformed)? {
            Some(field) if field.name() == Some("file") => break field,
            Some(_) => continue,
            None => return Err(HttpError::invalid("file", "no part named file")),
        }
    };
    let filename = clean_filename(field.file_name().unwrap_or_default());
    let mut spool = Spool::create(&attachments.spool_dir, max).await.map_err(internal)?;
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        spool.write(&chunk).await.map_err(|e| match e {
            SpoolError::TooLarge(_) => too_large(max),
            e => internal(e),
        })?;
    }
    let head = spool.head().to_vec();
    let spooled = spool.finish().await.map_err(internal)?;
    let now = now_ms();
    let kept = attachments.keep(&state.db, spooled, &head, now).await.map_err(|e| match e {
        KeepError::Image(e) => HttpError::invalid("file", e.to_string()),
        e => internal(e),
    })?;
    let mut key = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut key);
    let row = AttachmentRow {
        id: state.ids.next(),
        url_key: spool::hex(&key),
        channel_id,
        uploader_id: caller.id(),
        message_id: None,
        filename,
        content_type: kept.content_type.to_owned(),
        size: i64::try_from(kept.size).unwrap_or(i64::MAX),
        width: kept.width.map(i64::from),
        height: kept.height.map(i64::from),
        blob: kept.blob.clone(),
        thumbnail_blob: kept.thumbnail_blob.clone(),
        created_at: now,
    };
    let inserted = store::attachments::insert(state.db.pool(), &row).await;
    // After the row's commit, never before: see `store::attachments::unclaim_blob`.
    attachments.unclaim_kept(&state.db, &kept).await;
    inserted?;
    Ok((StatusCode::CREATED, Json(row.to_wire())))
}

fn too_large(max: u64) -> HttpError {
    HttpError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!("a file may be at most {max} bytes (ATTACHMENT_MAX_BYTES)"),
    )
}

fn malformed(e: MultipartError) -> HttpError {
    HttpError::malformed(format!("unreadable multipart body: {}", e.body_text()))
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    tracing::error!(error = %e, "storing an attachment failed");
    HttpError::internal()
}

/// The last path segment of the name the client gave, without control characters, at
/// most `ATTACHMENT_FILENAME_MAX_CHARS` characters (cut before the extension, which is
/// kept); `file` when nothing is left.
fn clean_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let name: String = base.chars().filter(|c| !c.is_control()).collect();
    let name = name.trim();
    if name.is_empty() || name == "." || name == ".." {
        return "file".to_owned();
    }
    let chars = name.chars().count();
    if chars <= ATTACHMENT_FILENAME_MAX_CHARS {
        return name.to_owned();
    }
    let ext = name.rsplit_once('.').map(|(_, ext)| ext).filter(|ext| ext.chars().count() <= 16);
    let ext_chars = ext.map_or(0, |e| e.chars().count() + 1);
    let stem: String = name.chars().take(ATTACHMENT_FILENAME_MAX_CHARS - ext_chars).collect();
    match ext {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem,
    }
}

/// Download a file. Credentials as for the API (browsers: the session cookie, which
/// `<img src>` sends); the caller must be able to read the channel now, and an unsent
/// upload is its uploader's alone. Anything else is `404`, like a wrong key.
#[utoipa::path(get, path = "/api/attachments/{id}/{key}", tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "attachment id"), ("key" = String, Path, description = "the random key in its url")),
    responses((status = 200, description = "the file's bytes: a checked image inline, anything else as a download"), (status = 404, body = ApiError)))]
async fn get_attachment(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(Id, String)>,
) -> HttpResult<Response> {
    let row = readable(&state, &caller, id, &key).await?;
    let body = blob_body(&state, &row.blob).await?;
    let inline = row.content_type != PLAIN_FILE_TYPE;
    Ok(file_response(body, &row.content_type, &row.filename, inline, Some(row.size)))
}

/// An image's thumbnail (PNG), with the same rules as the file.
#[utoipa::path(get, path = "/api/attachments/{id}/{key}/thumbnail", tag = "attachments", security(("bearer" = []), ("cookie" = [])),
    params(("id" = String, Path, description = "attachment id"), ("key" = String, Path, description = "the random key in its url")),
    responses((status = 200, description = "a PNG image"), (status = 404, body = ApiError)))]
async fn get_attachment_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(Id, String)>,
) -> HttpResult<Response> {
    let row = readable(&state, &caller, id, &key).await?;
    let Some(thumbnail) = &row.thumbnail_blob else { return Err(HttpError::not_found("thumbnail")) };
    let body = blob_body(&state, thumbnail).await?;
    Ok(file_response(body, "image/png", &row.filename, true, None))
}

/// The attachment, if the key matches and the caller may read it now.
async fn readable(state: &AppState, caller: &Caller, id: Id, key: &str) -> HttpResult<AttachmentRow> {
    let mut conn = state.db.pool().acquire().await?;
    let row = store::attachments::find(&mut conn, id)
        .await?
        .filter(|row| same_key(&row.url_key, key))
        .ok_or_else(|| HttpError::not_found("attachment"))?;
    let allowed = match row.message_id {
        None => row.uploader_id == caller.id(),
        Some(_) => may_read(&mut conn, caller, row.channel_id).await?,
    };
    if !allowed {
        return Err(HttpError::not_found("attachment"));
    }
    Ok(row)
}

async fn may_read(conn: &mut Conn, caller: &Caller, channel_id: Id) -> HttpResult<bool> {
    match access::visible_channel(conn, caller, channel_id).await {
        Ok(_) => Ok(true),
        Err(access::Error::Denied(Denied::Hidden)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Compares in time independent of where the keys differ, so timing does not reveal a
/// key byte by byte.
fn same_key(stored: &str, given: &str) -> bool {
    stored.len() == given.len()
        && stored.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn blob_body(state: &AppState, hash: &str) -> HttpResult<Body> {
    match state.attachments.blobs.get(hash).await {
        Ok(Some(stream)) => Ok(Body::from_stream(stream)),
        Ok(None) => {
            tracing::error!(hash, "an attachment's blob is missing from the store");
            Err(HttpError::not_found("attachment"))
        }
        Err(e) => Err(internal(e)),
    }
}

fn file_response(body: Body, content_type: &str, filename: &str, inline: bool, len: Option<i64>) -> Response {
    let disposition = format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        ascii_fallback(filename),
        percent_encode(filename)
    );
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::CONTENT_DISPOSITION, &disposition);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::CONTENT_SECURITY_POLICY, FILE_CSP);
    // Other sites may not embed these files, even for a signed-in visitor.
    set(header::HeaderName::from_static("cross-origin-resource-policy"), "same-origin");
    // Bytes under a key never change, but rights do: only the reader's own browser
    // keeps a copy, and not for long.
    set(header::CACHE_CONTROL, "private, max-age=3600");
    if let Some(len) = len {
        set(header::CONTENT_LENGTH, &len.to_string());
    }
    response
}

/// The name in plain ASCII for old clients: anything else, quotes and backslashes become `_`.
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' { c } else { '_' })
        .collect()
}

/// RFC 5987 encoding for `filename*`.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters_and_keep_their_extension() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd", "no directory part survives");
        assert_eq!(clean_filename("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(clean_filename("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(clean_filename(""), "file");
        assert_eq!(clean_filename(".."), "file");
        let long = format!("{}.pdf", "x".repeat(300));
        let cut = clean_filename(&long);
        assert_eq!(cut.chars().count(), ATTACHMENT_FILENAME_MAX_CHARS);
        assert!(cut.ends_with(".pdf"), "the extension says what the file is: {cut}");
    }

    #[test]
    fn download_names_are_encoded_for_the_header() {
        assert_eq!(percent_encode("été \"x\".txt"), "%C3%A9t%C3%A9%20%22x%22.txt");
        assert_eq!(ascii_fallback("été \"x\".txt"), "_t_ _x_.txt");
    }
}
