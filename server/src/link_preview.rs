//! Link previews: fetching a page on a user's behalf and reading what it says about itself.
//!
//! Fetching a URL a user chose from inside the server's network is request forgery
//! waiting to happen, so every hop is vetted before any traffic: only http(s); the host is
//! resolved here and refused when any of its addresses is loopback, private, link-local,
//! multicast or otherwise not on the public internet; the connection then goes to the
//! vetted address only (a second DNS answer cannot swap it); redirects are followed by
//! hand, at most [`MAX_REDIRECTS`], each vetted the same way. Time, size and content type
//! are capped. Results are cached in memory for an hour.

mod page;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cromulent_protocol::message::LinkPreview;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{redirect, Url};
use tokio::sync::Semaphore;

/// The whole preview, every hop included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Bytes of a page read; the head, where the tags live, comes first.
const BODY_MAX_BYTES: usize = 512 * 1024;
pub const MAX_REDIRECTS: usize = 3;
const URL_MAX_CHARS: usize = 2048;
const CACHE_ENTRIES: usize = 1000;
const CACHE_TTL: Duration = Duration::from_secs(60 * 60);
/// Fetches in flight at once on this node, so previews cannot tie up its sockets.
const CONCURRENT_FETCHES: usize = 16;

/// Why a page has no preview.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreviewError {
    /// Not an http(s) address with a host (or too long). Not retryable.
    #[error("not an http or https address")]
    InvalidUrl,
    /// The host (or a redirect's) resolves to an address off the public internet. Not
    /// retryable.
    #[error("the address is not on the public internet")]
    BlockedAddress,
    /// DNS gave no address. Retryable.
    #[error("the host could not be resolved")]
    Unresolvable,
    /// Not retryable.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// The page answered with an error status. Retryable.
    #[error("the page answered with status {0}")]
    Status(u16),
    /// The page is not `text/html`. Not retryable.
    #[error("the page is not HTML")]
    NotHtml,
    /// The page took longer than the limit. Retryable.
    #[error("the page took too long to answer")]
    Timeout,
    /// Connecting or reading failed. Retryable.
    #[error("the page could not be fetched")]
    Fetch(#[source] reqwest::Error),
}

/// The fetcher and its cache; one per node, in the app state.
#[derive(Debug)]
pub struct LinkPreviews {
    allow_loopback: bool,
    cache: Mutex<HashMap<String, (Instant, LinkPreview)>>,
    fetches: Semaphore,
}

impl LinkPreviews {
    /// `allow_loopback` lets tests preview pages served on 127.0.0.1; never in production.
    pub fn new(allow_loopback: bool) -> Self {
        Self { allow_loopback, cache: Mutex::default(), fetches: Semaphore::new(CONCURRENT_FETCHES) }
    }

    /// The preview of `raw`, from the cache or fetched now.
    pub async fn preview(&self, raw: &str) -> Result<LinkPreview, PreviewError> {
        if let Some(hit) = self.cached(raw) {
            return Ok(hit);
        }
        let url = parse_url(raw)?;
        let fetch = async {
            let _permit = self.fetches.acquire().await.expect("the semaphore is never closed");
            fetch(url, self.allow_loopback).await
        };
        let (final_url, meta) =
            tokio::time::timeout(FETCH_TIMEOUT, fetch).await.map_err(|_| PreviewError::Timeout)??;
        let image_url = meta
            .image
            .and_then(|image| final_url.join(&image).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .map(String::from);
        let preview = LinkPreview {
            url: raw.to_owned(),
            title: meta.title,
            description: meta.description,
            image_url,
            site_name: meta.site_name,
        };
        self.store(raw, preview.clone());
        Ok(preview)
    }

    fn cached(&self, raw: &str) -> Option<LinkPreview> {
        let cache = self.cache.lock().expect("cache lock is never poisoned: no panics inside");
        cache.get(raw).filter(|(at, _)| at.elapsed() < CACHE_TTL).map(|(_, p)| p.clone())
    }

    fn store(&self, raw: &str, preview: LinkPreview) {
        let mut cache = self.cache.lock().expect("cache lock is never poisoned: no panics inside");
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if cache.len() >= CACHE_ENTRIES {
            let oldest = cache.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(raw.to_owned(), (Instant::now(), preview));
    }
}

/// An absolute http(s) URL with a host and no credentials.
fn parse_url(raw: &str) -> Result<Url, PreviewError> {
    if raw.chars().count() > URL_MAX_CHARS {
        return Err(PreviewError::InvalidUrl);
    }
    let url = Url::parse(raw).map_err(|_| PreviewError::InvalidUrl)?;
    check_url(url)
}

fn check_url(url: Url) -> Result<Url, PreviewError> {
    let fine = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none();
    fine.then_some(url).ok_or(PreviewError::InvalidUrl)
}

/// Follows the page through at most [`MAX_REDIRECTS`] vetted redirects and reads its tags.
async fn fetch(mut url: Url, allow_loopback: bool) -> Result<(Url, page::PageMeta), PreviewError> {
    for _ in 0..=MAX_REDIRECTS {
        let addr = resolve_vetted(&url, allow_loopback).await?;
        let client = client_for(&url, addr)?;
        let mut response =
            client.get(url.clone()).header(ACCEPT, "text/html").send().await.map_err(fetch_error)?;
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok());
            let next =
                location.and_then(|l| url.join(l).ok()).ok_or(PreviewError::Status(status.as_u16()))?;
            url = check_url(next)?;
            continue;
        }
        if !status.is_success() {
            return Err(PreviewError::Status(status.as_u16()));
        }
        if !is_html(response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok())) {
            return Err(PreviewError::NotHtml);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            let room = BODY_MAX_BYTES - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= BODY_MAX_BYTES {
                break;
            }
        }
        // Pages in other charsets lose their non-ASCII letters; titles are mostly UTF-8.
        return Ok((url, page::parse(&String::from_utf8_lossy(&body))));
    }
    Err(PreviewError::TooManyRedirects)
}

fn fetch_error(err: reqwest::Error) -> PreviewError {
    if err.is_timeout() {
        PreviewError::Timeout
    } else {
        PreviewError::Fetch(err)
    }
}

fn is_html(content_type: Option<&str>) -> bool {
    let mime = content_type.and_then(|v| v.split(';').next()).unwrap_or("").trim().to_ascii_lowercase();
    mime == "text/html" || mime == "application/xhtml+xml"
}

/// The address to connect to: every address the host resolves to must pass
/// [`is_refused`], since a client could otherwise be steered to any of them.
async fn resolve_vetted(url: &Url, allow_loopback: bool) -> Result<SocketAddr, PreviewError> {
    let host = url.host_str().ok_or(PreviewError::InvalidUrl)?;
    let port = url.port_or_known_default().ok_or(PreviewError::InvalidUrl)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::net::lookup_host((bare, port)).await.map_err(|_| PreviewError::Unresolvable)?.collect()
        }
    };
    if addrs.iter().any(|a| is_refused(a.ip(), allow_loopback)) {
        return Err(PreviewError::BlockedAddress);
    }
    addrs.first().copied().ok_or(PreviewError::Unresolvable)
}

/// A client that reaches `url`'s host at `addr` only, with no proxy and no redirects of
/// its own. One per hop: the pinned address belongs to that hop.
fn client_for(url: &Url, addr: SocketAddr) -> Result<reqwest::Client, PreviewError> {
    let mut builder = reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .no_proxy()
        .timeout(FETCH_TIMEOUT)
        .user_agent(concat!("Cromulent-LinkPreview/", env!("CARGO_PKG_VERSION")));
    if let Some(host) = url.host_str().filter(|h| !h.starts_with('[') && h.parse::<IpAddr>().is_err()) {
        builder = builder.resolve(host, addr);
    }
    builder.build().map_err(PreviewError::Fetch)
}

/// Whether the server must not connect to `ip`: anything but the public internet.
pub fn is_refused(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => is_refused_v4(v4, allow_loopback),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_refused_v4(v4, allow_loopback),
            None if v6.is_loopback() => !allow_loopback,
            None => {
                let first = v6.segments()[0];
                v6.is_unspecified()
                    || v6.is_multicast()
                    || first & 0xfe00 == 0xfc00 // unique local fc00::/7
                    || first & 0xffc0 == 0xfe80 // link-local fe80::/10
                    || first & 0xffc0 == 0xfec0 // old site-local fec0::/10
                    || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
            }
        },
    }
}

fn is_refused_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return !allow_loopback;
    }
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network", 0.0.0.0 included
        || a == 100 && b & 0xc0 == 64 // carrier-grade NAT 100.64/10
        || a == 192 && b == 0 && c == 0 // IETF protocol assignments
        || a == 198 && b & 0xfe == 18 // benchmarking 198.18/15
        || a >= 240 // reserved
}

/// The IPv4 address inside an IPv6 one that routes to it: mapped `::ffff:a.b.c.d`,
/// compatible `::a.b.c.d`, NAT64 `64:ff9b::/96` and 6to4 `2002::/16`.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let low = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(low),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        is_refused(s.parse().expect("an address"), false)
    }

    #[test]
    fn only_public_addresses_pass() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
        ] {
            assert!(refused(ip), "{ip} is off the public internet and must be refused");
        }
        for ip in
            ["93.184.215.14", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]
        {
            assert!(!refused(ip), "{ip} is public and may be previewed");
        }
    }

    #[test]
    fn loopback_passes_only_when_allowed() {
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(
                !is_refused(ip.parse().expect("an address"), true),
                "{ip}: tests serve pages on loopback"
            );
        }
        assert!(
            is_refused("10.0.0.1".parse().expect("an address"), true),
            "allowing loopback allows nothing else"
        );
    }

    #[test]
    fn only_http_urls_with_a_host_are_taken() {
        for raw in [
            "ftp://example.com/",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,x",
            "http://user:pw@example.com/",
            "not a url",
            "mailto:a@b.c",
        ] {
            assert!(
                matches!(parse_url(raw), Err(PreviewError::InvalidUrl)),
                "{raw} is not a page to preview"
            );
        }
        assert!(parse_url("https://example.com/a?b#c").is_ok(), "an ordinary page is taken");
        assert!(
            parse_url(&format!("https://example.com/{}", "a".repeat(URL_MAX_CHARS))).is_err(),
            "too long"
        );
    }

    #[tokio::test]
    async fn hops_are_vetted_before_connecting() {
        // Each of these is refused by resolve_vetted, which every hop (redirects too)
        // passes before a client is even built, so no packet leaves.
        for raw in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://localhost:8080/",
            "http://[::ffff:7f00:1]/",
        ] {
            let url = parse_url(raw).expect("well formed");
            assert!(
                matches!(resolve_vetted(&url, false).await, Err(PreviewError::BlockedAddress)),
                "{raw} must be refused before any connection"
            );
        }
    }
}
