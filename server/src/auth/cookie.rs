//! The browser session cookie, and the cross-site check for requests that carry it.

use axum::http::header::{COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue};

const NAME_PLAIN: &str = "cromulent_session";
/// Over TLS the `__Host-` prefix makes browsers refuse the cookie unless it is Secure,
/// host-only and for `/`, so a sibling subdomain cannot plant or shadow it.
const NAME_TLS: &str = "__Host-cromulent_session";

#[derive(Debug, Clone)]
pub struct CookiePolicy {
    secure: bool,
    /// Origins allowed to send cookie-authenticated writes: ours and configured extras.
    allowed_origins: Vec<String>,
}

impl CookiePolicy {
    pub fn new(public_url: &str, extra_origins: &[String]) -> Self {
        let mut allowed_origins = vec![origin_of(public_url)];
        allowed_origins.extend(extra_origins.iter().map(|o| origin_of(o)));
        Self { secure: public_url.starts_with("https://"), allowed_origins }
    }

    pub fn name(&self) -> &'static str {
        if self.secure {
            NAME_TLS
        } else {
            NAME_PLAIN
        }
    }

    pub fn set(&self, value: &str, max_age_secs: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}",
            self.name()
        );
        HeaderValue::from_str(&cookie).expect("the cookie value is base64url")
    }

    pub fn clear(&self) -> HeaderValue {
        self.set("", 0)
    }

    pub fn read(&self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name())
            .map(|(_, value)| value.to_owned())
            .filter(|value| !value.is_empty())
    }

    /// True unless the request shows signs of coming from another site.
    ///
    /// Browsers send `Origin` with every non-GET request, and `Sec-Fetch-Site` with
    /// every request; a client that sends neither is not a browser and cannot be
    /// tricked into a cross-site request.
    pub fn is_same_origin(&self, headers: &HeaderMap) -> bool {
        if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
            let origin = origin_of(origin);
            if self.allowed_origins.contains(&origin) {
                return true;
            }
            let scheme = if self.secure { "https" } else { "http" };
            return headers
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .is_some_and(|host| origin == format!("{scheme}://{}", host.to_ascii_lowercase()));
        }
        match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            Some(site) => site == "same-origin" || site == "none",
            None => true,
        }
    }
}

/// `scheme://host[:port]` of a URL, lower-cased, without path or trailing slash.
fn origin_of(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find('/').map_or(url.len(), |i| after_scheme + i);
    url[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("valid header"));
        }
        h
    }

    #[test]
    fn tls_cookies_are_secure_and_host_prefixed() {
        let policy = CookiePolicy::new("https://chat.example", &[]);
        let set = policy.set("abc", 60);
        let set = set.to_str().expect("ascii");
        assert!(set.starts_with("__Host-cromulent_session=abc;"));
        assert!(set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"));
        let plain = CookiePolicy::new("http://localhost:4000", &[]).set("abc", 60);
        assert!(!plain.to_str().expect("ascii").contains("Secure"), "plain http cannot keep Secure cookies");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let policy = CookiePolicy::new("http://localhost:4000", &[]);
        let h = headers(&[("cookie", "a=1; cromulent_session=tok; b=2")]);
        assert_eq!(policy.read(&h).as_deref(), Some("tok"));
        assert_eq!(policy.read(&headers(&[("cookie", "cromulent_session=")])), None);
    }

    #[test]
    fn cross_site_requests_are_told_apart() {
        let policy = CookiePolicy::new("http://localhost:4000", &["https://app.example/".into()]);
        assert!(policy.is_same_origin(&headers(&[("origin", "http://localhost:4000")])));
        assert!(policy.is_same_origin(&headers(&[("origin", "https://app.example")])));
        assert!(policy
            .is_same_origin(&headers(&[("origin", "http://127.0.0.1:4000"), ("host", "127.0.0.1:4000")])));
        assert!(!policy
            .is_same_origin(&headers(&[("origin", "https://evil.example"), ("host", "localhost:4000")])));
        assert!(!policy.is_same_origin(&headers(&[("sec-fetch-site", "cross-site")])));
        assert!(policy.is_same_origin(&headers(&[])), "non-browser clients send neither header");
    }
}
