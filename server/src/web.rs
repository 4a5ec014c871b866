//! The web client at `/`: the built `desktop-ui` from `WEB_DIR` or embedded in the binary.
//!
//! Every path the API does not claim comes here. A file that exists is served with its
//! caching rule (Vite's content-hashed `/assets/*` forever, everything else revalidated);
//! any other path is a client-side route (`/confirm/<token>`, `/channels/<id>`) and gets
//! `index.html`. HTML always carries the Content-Security-Policy. When the UI was never
//! built, a short page says how to build it, so the server still runs without it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The UI as built when the server was compiled. In debug builds rust-embed reads the
/// same folder from disk at run time; in release builds the bytes are in the binary.
/// A missing folder (UI not built) embeds nothing instead of failing the build.
#[derive(rust_embed::Embed)]
#[folder = "../desktop-ui/dist/"]
#[allow_missing = true]
struct Embedded;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Prefixes that belong to the server itself: a miss there is an API 404, never HTML.
const SERVER_PATHS: [&str; 5] = ["/api", "/dev", "/healthz", "/readyz", "/auto_login"];

/// Where the files come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A folder on disk (`WEB_DIR`), read on every request so a rebuild shows at once.
    Dir(PathBuf),
    /// Compiled into the binary.
    Embedded,
}

impl Source {
    pub fn new(web_dir: Option<&Path>) -> Self {
        match web_dir {
            Some(dir) => Source::Dir(dir.to_owned()),
            None => Source::Embedded,
        }
    }

    async fn read(&self, relative: &str) -> Option<Cow<'static, [u8]>> {
        match self {
            Source::Dir(dir) => {
                let path = dir.join(relative);
                match tokio::fs::metadata(&path).await {
                    Ok(meta) if meta.is_file() => tokio::fs::read(&path).await.ok().map(Cow::Owned),
                    _ => None,
                }
            }
            Source::Embedded => Embedded::get(relative).map(|file| file.data),
        }
    }
}

/// A request the web client does not answer; the router's fallback gives it the API's
/// JSON 404.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Miss {
    /// A server path no route claimed (`/api/nope`), or a method other than GET or HEAD.
    #[error("no such route")]
    Route,
    /// A path that could leave the folder.
    #[error("no such file")]
    File,
}

/// The web client for a browser route: a file, or `index.html` for a client-side route.
pub async fn serve(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, Miss> {
    let path = uri.path();
    if is_server_path(path) || (method != Method::GET && method != Method::HEAD) {
        return Err(Miss::Route);
    }
    let relative = relative_path(path).ok_or(Miss::File)?;
    let source = Source::new(state.config.web_dir.as_deref());
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());

    if let Some(bytes) = source.read(&relative).await {
        return Ok(file_response(&relative, bytes, host));
    }
    if relative.starts_with("assets/") {
        // A stale hashed asset must fail loudly, not turn into an HTML page the browser
        // then refuses to run as a script.
        return Ok((StatusCode::NOT_FOUND, "no such asset").into_response());
    }
    Ok(match source.read("index.html").await {
        Some(bytes) => file_response("index.html", bytes, host),
        None => html_response(Cow::Borrowed(NOT_BUILT.as_bytes()), host),
    })
}

fn is_server_path(path: &str) -> bool {
    SERVER_PATHS
        .iter()
        .any(|prefix| path.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
}

/// `/a/b.js` → `a/b.js`; `/` → `index.html`. Refuses anything that could leave the
/// folder (`..`, backslashes, empty or hidden segments).
fn relative_path(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() {
        return Some("index.html".into());
    }
    let safe = trimmed
        .split('/')
        .all(|segment| !segment.is_empty() && !segment.starts_with('.') && !segment.contains(['\\', '\0']));
    safe.then(|| trimmed.to_owned())
}

fn file_response(relative: &str, bytes: Cow<'static, [u8]>, host: Option<&str>) -> Response {
    let mime = mime_guess::from_path(relative).first_or_octet_stream();
    if mime.essence_str() == "text/html" {
        return html_response(bytes, host);
    }
    let cache = if relative.starts_with("assets/") { IMMUTABLE } else { REVALIDATE };
    let content_type = HeaderValue::from_str(mime.as_ref()).expect("a MIME type is a valid header value");
    let mut response = bytes.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn html_response(bytes: Cow<'static, [u8]>, host: Option<&str>) -> Response {
    let mut response = bytes.into_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&content_security_policy(host))
            .expect("the policy is built from safe characters"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The policy for every HTML page. `connect-src` names the gateway's ws/wss origin
/// explicitly because older browsers do not count WebSocket URLs as `'self'`.
/// `style-src 'unsafe-inline'` is there because Svelte writes `style` attributes for
/// dynamic sizes and colours; scripts stay strictly same-origin and `eval` stays off.
pub fn content_security_policy(host: Option<&str>) -> String {
    let sockets = match host.filter(|h| is_plain_host(h)) {
        Some(host) => format!(" ws://{host} wss://{host}"),
        None => String::new(),
    };
    format!(
        "default-src 'self'; script-src 'self'; connect-src 'self'{sockets}; \
         img-src 'self' https: data: blob:; media-src 'self' blob:; \
         style-src 'self' 'unsafe-inline'; font-src 'self' data:; object-src 'none'; \
         base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// A `Host` header fit to be copied into the policy: name or address and port only.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

const NOT_BUILT: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Cromulent</title></head>
<body style=\"font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5\">
<h1>The web client was not built</h1>
<p>This server is running, but it was compiled without the web client and no
<code>WEB_DIR</code> is set.</p>
<p>Build it with <code>cd desktop-ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then either rebuild
the server (it embeds <code>desktop-ui/dist</code>) or start it with
<code>WEB_DIR=desktop-ui/dist</code>.</p>
<p>The API is up at <code>/api</code>.</p>
</body></html>
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_escape_the_folder_are_refused() {
        assert_eq!(relative_path("/").as_deref(), Some("index.html"), "the root is the app");
        assert_eq!(relative_path("/assets/app-1a2b.js").as_deref(), Some("assets/app-1a2b.js"));
        for bad in ["/../secret", "/assets/../../etc/passwd", "/a//b", "/.env", "/a\\b"] {
            assert_eq!(relative_path(bad), None, "{bad} must not map to a file");
        }
    }

    #[test]
    fn server_prefixes_match_whole_segments_only() {
        assert!(is_server_path("/api/nope"), "API misses stay JSON");
        assert!(is_server_path("/healthz"));
        assert!(!is_server_path("/apiary"), "a client route that merely starts with 'api'");
        assert!(!is_server_path("/channels/1"));
    }

    #[test]
    fn the_policy_names_the_socket_origin_and_ignores_a_forged_host() {
        let csp = content_security_policy(Some("chat.example:4000"));
        assert!(csp.contains("connect-src 'self' ws://chat.example:4000 wss://chat.example:4000;"), "{csp}");
        assert!(!csp.contains("unsafe-eval"), "eval stays off: {csp}");
        let forged = content_security_policy(Some("evil; script-src *"));
        assert!(!forged.contains("evil"), "a Host with policy syntax is dropped: {forged}");
    }
}
