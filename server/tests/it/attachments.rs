//! Attachments end to end: uploading (streamed, limited, images checked and cleaned),
//! sending them with a message, reading them back in history and events, serving them
//! safely, the rights on every step, and their files going when nothing needs them —
//! on local files and on a real S3-compatible server.

use std::io::Cursor;

use cromulent_protocol::attachment::Attachment;
use cromulent_protocol::channel::WritePermission;
use cromulent_protocol::event::Event;
use cromulent_protocol::message::Message;
use cromulent_protocol::search::SearchHit;
use cromulent_protocol::{ErrorCode, Id};
use cromulent_testkit::S3Server;
use image::{DynamicImage, ImageFormat, RgbImage};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::db_test;
use crate::gateway_client::WAIT;
use crate::harness::{Database, Reply, TestServer, TestUser};
use crate::messages::{channel_id, history, make_channel};

const BOUNDARY: &str = "cromulent-test-boundary-7d1f";

/// A multipart body with one part named `part` holding `bytes` as `filename`.
fn form(part: &str, filename: &str, claimed_type: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{filename}\"\r\n\
         Content-Type: {claimed_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload_as(
    srv: &TestServer,
    user: &TestUser,
    channel: Id,
    filename: &str,
    claimed: &str,
    bytes: &[u8],
) -> Reply {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let path = format!("/api/channels/{channel}/attachments");
    srv.call_raw(
        Method::POST,
        &path,
        Some(&user.access_token),
        &content_type,
        form("file", filename, claimed, bytes),
    )
    .await
}

async fn upload(srv: &TestServer, user: &TestUser, channel: Id, filename: &str, bytes: &[u8]) -> Attachment {
    let reply = upload_as(srv, user, channel, filename, "application/octet-stream", bytes).await;
    assert_eq!(reply.status, StatusCode::CREATED, "the upload is stored: {}", reply.body);
    reply.json()
}

async fn send_files(srv: &TestServer, user: &TestUser, channel: Id, body: &str, ids: &[Id]) -> Reply {
    srv.post(&format!("/api/channels/{channel}/messages"), user, json!({"body": body, "attachment_ids": ids}))
        .await
}

/// A file's status, headers and bytes, fetched as `user`.
async fn download(srv: &TestServer, user: &TestUser, url: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    let reply =
        srv.http.get(srv.url(url)).bearer_auth(&user.access_token).send().await.expect("reaches the server");
    let (status, headers) = (reply.status(), reply.headers().clone());
    (status, headers, reply.bytes().await.expect("body").to_vec())
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).expect("encode");
    out
}

/// A JPEG carrying an EXIF block with a GPS position (as phones write it).
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, _| image::Rgb([(x % 256) as u8, 40, 200]));
    let mut plain = Vec::new();
    DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut plain), ImageFormat::Jpeg).expect("encode");
    // APP1 "Exif\0\0" + a little-endian TIFF header with no IFD entries, followed by the
    // GPS text a reader would find: enough to prove the block is gone.
    let mut exif = b"Exif\0\0II*\0\x08\0\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPSLatitude 48.8584 N GPSLongitude 2.2945 E");
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(exif.len() + 2).expect("small").to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A PNG whose header claims `width` × `height` with one tiny data chunk: a few dozen
/// bytes that would decode to gigabytes.
fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// Where the local store keeps a blob.
fn blob_path(srv: &TestServer, hash: &str) -> std::path::PathBuf {
    srv.state.config.data_dir.join("attachments").join(&hash[..2]).join(&hash[2..4]).join(hash)
}

async fn blob_of(srv: &TestServer, id: Id) -> String {
    sqlx::query_scalar("SELECT blob FROM attachments WHERE id = $1")
        .bind(id.0)
        .fetch_one(srv.state.db.pool())
        .await
        .expect("the row")
}

db_test!(
    async fn a_file_is_uploaded_sent_read_back_and_served_as_a_download(srv) {
        let ann = srv.user("ann").await;
        let bob = srv.user("bob").await;
        let general = channel_id(&srv, "general").await;
        let mut bob_gw = srv.connect(&bob).await;
        let text = b"minutes of the meeting\n".repeat(1000);
        let uploaded = upload(&srv, &ann, general, "notes.txt", &text).await;
        assert_eq!(uploaded.filename, "notes.txt");
        assert_eq!(uploaded.size, text.len() as u64);
        assert_eq!(uploaded.content_type, "application/octet-stream", "only sniffed images get a type of their own");
        assert_eq!((uploaded.width, uploaded.height, uploaded.thumbnail_url.clone()), (None, None, None));
        assert!(uploaded.url.starts_with(&format!("/api/attachments/{}/", uploaded.id)), "{}", uploaded.url);

        let reply = send_files(&srv, &ann, general, "", &[uploaded.id]).await;
        assert_eq!(reply.status, StatusCode::CREATED, "files alone make a message: {}", reply.body);
        let sent: Message = reply.json();
        assert_eq!(sent.attachments, std::slice::from_ref(&uploaded), "the message carries the file as uploaded");
        let event = bob_gw.wait_for_event(|e| matches!(e, Event::MessageCreate { .. }), WAIT).await;
        let Event::MessageCreate { message } = event else { unreachable!() };
        assert_eq!(message.attachments, std::slice::from_ref(&uploaded), "readers learn of the file with the message");
        let page = history(&srv, &bob, general, "").await;
        let read = page.iter().find(|m| m.id == sent.id).expect("in history");
        assert_eq!(read.attachments, std::slice::from_ref(&uploaded), "history carries the files too");

        let (status, headers, bytes) = download(&srv, &bob, &uploaded.url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(bytes, text, "the bytes come back as uploaded");
        assert!(header(&headers, "content-disposition").starts_with("attachment;"), "not an image: a download");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert!(header(&headers, "content-security-policy").contains("sandbox"), "no script runs in a file response");

        let again = send_files(&srv, &ann, general, "twice", &[uploaded.id]).await;
        assert_eq!(again.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("attachment_ids"), "a file is sent once");

        // Search's `has=attachment` finds the messages that carry files, and only those.
        let minutes = upload(&srv, &ann, general, "minutes.txt", b"the minutes").await;
        let with_file: Message = send_files(&srv, &ann, general, "agenda attached", &[minutes.id]).await.json();
        let without: Reply = send_files(&srv, &ann, general, "agenda to follow", &[]).await;
        assert_eq!(without.status, StatusCode::CREATED, "{}", without.body);
        let hits: Vec<SearchHit> = srv.get("/api/search?q=agenda&has=attachment", &bob).await.json();
        let found: Vec<Id> = hits.iter().map(|hit| hit.message.id).collect();
        assert_eq!(found, [with_file.id], "has=attachment: the message with a file alone");

        // An edit may take the text away from a message with files, as a send may leave it
        // out; a message of text alone cannot be edited to nothing.
        let cleared = srv.patch(&format!("/api/messages/{}", with_file.id), &ann, json!({ "body": "  " })).await;
        assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.body);
        let cleared: Message = cleared.json();
        assert_eq!((cleared.body.as_str(), cleared.attachments.len()), ("", 1), "the file stays, the text goes");
        let without: Message = without.json();
        let emptied = srv.patch(&format!("/api/messages/{}", without.id), &ann, json!({ "body": "" })).await;
        assert_eq!(emptied.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("body"));
        let kept = history(&srv, &bob, general, "").await;
        assert_eq!(kept.iter().find(|m| m.id == without.id).map(|m| m.body.as_str()), Some("agenda to follow"), "the refused edit changed nothing");
    }
);

db_test!(
    async fn images_are_measured_previewed_and_lose_their_metadata(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let photo = jpeg_with_gps(800, 600);
        assert!(photo.windows(11).any(|w| w == b"GPSLatitude"), "the fixture carries a position");
        let uploaded = upload(&srv, &ann, general, "holiday.jpg", &photo).await;
        assert_eq!(uploaded.content_type, "image/jpeg", "sniffed from the bytes");
        assert_eq!((uploaded.width, uploaded.height), (Some(800), Some(600)));

        let (status, headers, stored) = download(&srv, &ann, &uploaded.url).await;
        assert_eq!(status, StatusCode::OK, "the uploader sees their unsent upload");
        assert!(!stored.windows(11).any(|w| w == b"GPSLatitude"), "the position is gone");
        assert!(!stored.windows(6).any(|w| w == b"Exif\0\0"), "the whole EXIF block is gone");
        assert_eq!(uploaded.size, stored.len() as u64, "the size is the stored file's");
        let decoded = image::load_from_memory(&stored).expect("still a JPEG");
        assert_eq!((decoded.width(), decoded.height()), (800, 600), "the picture itself is kept");
        assert_eq!(header(&headers, "content-type"), "image/jpeg");
        assert!(header(&headers, "content-disposition").starts_with("inline;"), "checked images show inline");
        assert!(header(&headers, "content-security-policy").contains("sandbox"));

        let thumbnail_url = uploaded.thumbnail_url.clone().expect("images have a thumbnail");
        let (status, headers, thumb) = download(&srv, &ann, &thumbnail_url).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "image/png");
        let thumb = image::load_from_memory(&thumb).expect("a PNG");
        assert_eq!((thumb.width(), thumb.height()), (400, 300), "at most 400 px on the longer side, aspect kept");

        let picture = upload(&srv, &ann, general, "diagram.png", &png(30, 20)).await;
        assert_eq!((picture.content_type.as_str(), picture.width, picture.height), ("image/png", Some(30), Some(20)));
    }
);

db_test!(
    async fn bad_uploads_and_sends_are_refused_with_nothing_stored(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;

        let fake = upload_as(&srv, &ann, general, "cat.png", "image/png", b"I am not a PNG at all").await;
        assert_eq!(fake.status, StatusCode::CREATED, "a file that only claims to be PNG is a plain file");
        let fake: Attachment = fake.json();
        assert_eq!((fake.content_type.as_str(), fake.width), ("application/octet-stream", None), "the claim is ignored");
        let (_, headers, _) = download(&srv, &ann, &fake.url).await;
        assert!(header(&headers, "content-disposition").starts_with("attachment;"), "served as a download, never as an image");

        let mut broken = b"\x89PNG\r\n\x1a\n".to_vec();
        broken.extend_from_slice(b"garbage where the chunks should be");
        let refused = upload_as(&srv, &ann, general, "broken.png", "image/png", &broken).await;
        refused.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);

        let bomb = png_header_only(50_000, 50_000);
        assert!(bomb.len() < 100, "a tiny file");
        let refused = upload_as(&srv, &ann, general, "bomb.png", "image/png", &bomb).await;
        let err = refused.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        assert!(err.message.contains("50000 × 50000"), "refused for its pixel count, before decoding: {}", err.message);

        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"><script>alert(1)</script></svg>"#;
        let evil: Attachment = upload_as(&srv, &ann, general, "evil.svg", "image/svg+xml", svg).await.json();
        assert_eq!(evil.content_type, "application/octet-stream", "SVG is never served as an image");
        let (status, headers, bytes) = download(&srv, &ann, &evil.url).await;
        assert_eq!((status, bytes.as_slice()), (StatusCode::OK, &svg[..]));
        assert_eq!(header(&headers, "content-type"), "application/octet-stream");
        assert!(header(&headers, "content-disposition").starts_with("attachment;"));
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff", "the browser may not guess it is SVG");
        assert_eq!(header(&headers, "content-security-policy"), "sandbox; default-src 'none'");

        let rows_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments").fetch_one(srv.state.db.pool()).await.expect("count");
        let path = format!("/api/channels/{general}/attachments");
        let json_body = srv.post(&path, &ann, json!({"file": "x"})).await;
        json_body.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorCode::UnsupportedMediaType);
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let no_file = srv.call_raw(Method::POST, &path, Some(&ann.access_token), &content_type, form("other", "a.txt", "text/plain", b"x")).await;
        assert_eq!(no_file.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("file"));
        let cut = srv.call_raw(Method::POST, &path, Some(&ann.access_token), &content_type, b"--cromulent-test-boundary-7d1f\r\nContent-Disp".to_vec()).await;
        cut.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let rows_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachments").fetch_one(srv.state.db.pool()).await.expect("count");
        assert_eq!(rows_before, rows_after, "refused uploads leave no row");

        let typed = srv.post(&format!("/api/channels/{general}/messages"), &ann, json!({"body": "x", "attachment_ids": ["abc"]})).await;
        typed.error(StatusCode::BAD_REQUEST, ErrorCode::MalformedRequest);
        let unknown = send_files(&srv, &ann, general, "", &[Id(123_456_789)]).await;
        assert_eq!(unknown.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("attachment_ids"));
        let twice = send_files(&srv, &ann, general, "", &[fake.id, fake.id]).await;
        twice.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
        let empty = send_files(&srv, &ann, general, "  ", &[]).await;
        assert_eq!(empty.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("body"), "no text and no file is no message");
        assert_eq!(crate::messages::message_count(&srv).await, 0, "no refused send stored a message");
    }
);

db_test!(
    async fn files_are_only_for_those_who_may_read_their_channel(srv) {
        let ann = srv.user("ann").await; // the first user: admin
        let bob = srv.user("bob").await;
        let carol = srv.user("carol").await;
        let general = channel_id(&srv, "general").await;
        let secret = make_channel(&srv, "secret", true, WritePermission::Everyone, &[&bob]).await;
        let news = make_channel(&srv, "news", false, WritePermission::AdminOnly, &[&carol]).await;

        let plan = upload(&srv, &bob, secret, "plan.txt", b"the plan").await;
        let sent: Message = send_files(&srv, &bob, secret, "", &[plan.id]).await.json();
        assert_eq!(sent.attachments.len(), 1);
        let (status, _, _) = download(&srv, &carol, &plan.url).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a private channel's file is not found by its URL");
        let (status, _, _) = download(&srv, &bob, &plan.url).await;
        assert_eq!(status, StatusCode::OK, "a member reads it");
        let wrong_key = format!("/api/attachments/{}/{}", plan.id, "0".repeat(32));
        assert_eq!(download(&srv, &bob, &wrong_key).await.0, StatusCode::NOT_FOUND, "the id alone is not enough");
        let anonymous = srv.http.get(srv.url(&plan.url)).send().await.expect("reaches");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "no credentials, no file");

        let mine = upload(&srv, &ann, general, "mine.txt", b"ann's").await;
        assert_eq!(download(&srv, &bob, &mine.url).await.0, StatusCode::NOT_FOUND, "an unsent upload is its uploader's alone");
        let stolen = send_files(&srv, &bob, general, "look", &[mine.id]).await;
        assert_eq!(stolen.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed).field.as_deref(), Some("attachment_ids"), "another user's upload cannot be sent");
        let elsewhere = upload(&srv, &bob, general, "here.txt", b"here").await;
        let moved = send_files(&srv, &bob, secret, "", &[elsewhere.id]).await;
        moved.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);

        let into_private = upload_as(&srv, &carol, secret, "x.txt", "text/plain", b"x").await;
        into_private.error(StatusCode::NOT_FOUND, ErrorCode::NotFound);
        let into_read_only = upload_as(&srv, &carol, news, "x.txt", "text/plain", b"x").await;
        into_read_only.error(StatusCode::FORBIDDEN, ErrorCode::Forbidden); // a member, but only admins write there

        let stale = upload(&srv, &bob, general, "old.txt", b"old").await;
        sqlx::query("UPDATE attachments SET created_at = created_at - 90000000 WHERE id = $1")
            .bind(stale.id.0)
            .execute(srv.state.db.pool())
            .await
            .expect("age the upload");
        let late = send_files(&srv, &bob, general, "", &[stale.id]).await;
        late.error(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed);
    }
);

db_test!(
    async fn files_go_when_no_message_or_upload_needs_them(srv) {
        let ann = srv.user("ann").await;
        let general = channel_id(&srv, "general").await;
        let bytes = b"the same bytes, sent twice".to_vec();
        let first = upload(&srv, &ann, general, "a.txt", &bytes).await;
        let second = upload(&srv, &ann, general, "b.txt", &bytes).await;
        let hash = blob_of(&srv, first.id).await;
        assert_eq!(hash, blob_of(&srv, second.id).await, "identical files share one blob");
        assert!(blob_path(&srv, &hash).exists());
        let one: Message = send_files(&srv, &ann, general, "", &[first.id]).await.json();
        let two: Message = send_files(&srv, &ann, general, "", &[second.id]).await.json();

        assert_eq!(srv.delete(&format!("/api/messages/{}", one.id), &ann).await.status, StatusCode::NO_CONTENT);
        assert!(blob_path(&srv, &hash).exists(), "the other message still holds the bytes");
        assert_eq!(download(&srv, &ann, &second.url).await.2, bytes);
        assert_eq!(srv.delete(&format!("/api/messages/{}", two.id), &ann).await.status, StatusCode::NO_CONTENT);
        assert!(!blob_path(&srv, &hash).exists(), "the last message's deletion deletes the file");
        assert_eq!(download(&srv, &ann, &second.url).await.0, StatusCode::NOT_FOUND);

        let image = upload(&srv, &ann, general, "p.png", &png(10, 10)).await;
        let unsent = upload(&srv, &ann, general, "later.txt", b"never sent").await;
        let (image_blob, unsent_blob) = (blob_of(&srv, image.id).await, blob_of(&srv, unsent.id).await);
        let now = cromulent_server::ids::now_ms();
        srv.state.attachments.sweep(&srv.state.db, now).await.expect("sweep");
        assert!(blob_path(&srv, &unsent_blob).exists(), "a fresh upload survives the sweep");
        srv.state.attachments.sweep(&srv.state.db, now + 25 * 3600 * 1000).await.expect("sweep");
        assert!(!blob_path(&srv, &unsent_blob).exists(), "an upload unsent after a day is removed");
        assert!(!blob_path(&srv, &image_blob).exists(), "with an image's thumbnail");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachment_blobs").fetch_one(srv.state.db.pool()).await.expect("count");
        assert_eq!(left, 0, "no blob is left once nothing names it");
    }
);

/// A server with small limits: ATTACHMENT_MAX_BYTES of 100 KiB, two uploads a minute.
async fn limited(database: Database) {
    let srv = TestServer::start_with(database, |c| {
        c.attachments.attachment_max_bytes = 100 * 1024;
        c.attachments.attachment_uploads_per_user_per_minute = 2;
    })
    .await;
    let ann = srv.user("ann").await;
    let general = channel_id(&srv, "general").await;
    let ready = srv.connect(&ann).await.ready.expect("a ready snapshot");
    assert_eq!(
        ready.limits.attachment_max_bytes,
        100 * 1024,
        "clients learn the limit, to refuse before sending"
    );
    let over =
        upload_as(&srv, &ann, general, "big.bin", "application/octet-stream", &vec![7u8; 100 * 1024 + 1])
            .await;
    let err = over.error(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge);
    assert!(err.message.contains("102400"), "the limit is named: {}", err.message);
    let spool = srv.state.attachments.spool_dir.clone();
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the cut-off upload's spool file is removed");
    upload(&srv, &ann, general, "ok.bin", &vec![7u8; 100 * 1024]).await;
    let third = upload_as(&srv, &ann, general, "c.txt", "text/plain", b"c").await;
    third.error(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_in_size_and_rate_on_sqlite() {
    limited(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_limited_in_size_and_rate_on_postgres() {
    limited(Database::Postgres).await;
}

/// The whole path through a real S3-compatible server: upload, serve, clean, delete.
async fn through_a_bucket(database: Database) {
    let s3 = S3Server::start().await;
    s3.create_bucket("files").await;
    let endpoint = s3.endpoint();
    let srv = TestServer::start_with(database, move |c| {
        c.attachments.attachments_s3_bucket = Some("files".into());
        c.attachments.attachments_s3_endpoint = Some(endpoint);
        c.attachments.attachments_s3_access_key_id = Some("test-key".into());
        c.attachments.attachments_s3_secret_access_key = Some("test-secret".into());
        c.attachments.attachments_s3_prefix = "cromulent/".into();
    })
    .await;
    let ann = srv.user("ann").await;
    let general = channel_id(&srv, "general").await;
    // Larger than one multipart part, so the streamed upload is exercised in parts.
    let big: Vec<u8> = (0..6 * 1024 * 1024 + 123).map(|i| (i % 251) as u8).collect();
    let file = upload(&srv, &ann, general, "data.bin", &big).await;
    let photo = upload(&srv, &ann, general, "photo.jpg", &jpeg_with_gps(64, 48)).await;
    let hash = blob_of(&srv, file.id).await;
    let stored = s3.object("files", &format!("cromulent/{hash}")).await.expect("the file is in the bucket");
    assert_eq!(stored, big, "the bucket holds the bytes as uploaded");
    assert_eq!(s3.keys("files").await.len(), 3, "the file, the photo and its thumbnail");
    assert!(
        !srv.state.config.data_dir.join("attachments").join(&hash[..2]).exists(),
        "nothing is kept on local disk"
    );

    let sent: Message = send_files(&srv, &ann, general, "both", &[file.id, photo.id]).await.json();
    assert_eq!(
        sent.attachments.iter().map(|a| a.id).collect::<Vec<_>>(),
        [file.id, photo.id],
        "in the order named"
    );
    let (status, _, bytes) = download(&srv, &ann, &file.url).await;
    assert_eq!((status, bytes.len()), (StatusCode::OK, big.len()));
    assert_eq!(bytes, big, "served from the bucket");
    let thumb = download(&srv, &ann, photo.thumbnail_url.as_deref().expect("thumbnail")).await;
    assert_eq!(thumb.0, StatusCode::OK);

    assert_eq!(srv.delete(&format!("/api/messages/{}", sent.id), &ann).await.status, StatusCode::NO_CONTENT);
    assert!(s3.keys("files").await.is_empty(), "deleting the message deletes its objects");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_live_in_an_s3_compatible_bucket_on_sqlite() {
    through_a_bucket(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_live_in_an_s3_compatible_bucket_on_postgres() {
    through_a_bucket(Database::Postgres).await;
}
