//! Which server a request may go to: a server address reduced to its origin (scheme,
//! host, port, parsed by the URL standard's rules, as a browser would), the check that a
//! requested address names that same origin, and API paths that cannot leave it.
//!
//! Every place that keeps or compares a server (the account store's config, keyring
//! keys, the api command's check) holds a [`ServerOrigin`], so two spellings of one
//! server are one server. What a person types becomes one with
//! [`ServerOrigin::from_typed`], whose rule the web UI's `saveServerAddress` follows;
//! `server_address_vectors.json` pins both to the same answers.
//!
//! The desktop app makes the UI's REST calls with the access token attached; these
//! checks keep the token on the server it belongs to, whatever address or path the UI
//! hands over (`https://server.example@evil.example`, `//evil.example`, backslashes).

use url::Url;

/// Why an address or a path was refused. Never retryable: the input must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// Not a plain `http(s)://host[:port]` address.
    #[error("not a server address: {address:?} ({reason})")]
    Invalid { address: String, reason: &'static str },
    /// A well-formed address of a server other than the configured one.
    #[error("{requested} is not the configured server {configured}")]
    OtherServer { requested: String, configured: String },
    /// No server is configured yet, so no call can go anywhere.
    #[error("no server is configured")]
    NotConfigured,
    /// A path that is not under `/api/` on the server, or would leave it.
    #[error("not an API path on the server: {path:?}")]
    BadPath { path: String },
}

/// An http(s) origin: scheme, host and port. Two addresses that differ only in case,
/// a default port or a trailing slash are the same origin. Serialized as its ASCII
/// form, `https://chat.example.org` or `http://127.0.0.1:4000`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string", export_to = "bridge/"))]
pub struct ServerOrigin {
    /// The origin's root, `scheme://host[:port]/`.
    root: Url,
    /// The URL standard's serialization of the origin; equal strings, equal origins.
    ascii: String,
}

impl PartialEq for ServerOrigin {
    fn eq(&self, other: &Self) -> bool {
        self.ascii == other.ascii
    }
}

impl Eq for ServerOrigin {}

impl std::hash::Hash for ServerOrigin {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.ascii.hash(state);
    }
}

impl PartialOrd for ServerOrigin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ServerOrigin {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.ascii.cmp(&other.ascii)
    }
}

impl std::fmt::Display for ServerOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.ascii)
    }
}

impl serde::Serialize for ServerOrigin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.ascii)
    }
}

impl<'de> serde::Deserialize<'de> for ServerOrigin {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Characters no server address or API path has, which URL parsers skip or rewrite
/// (tabs and newlines are removed, a backslash counts as a slash).
fn has_tricky_characters(s: &str) -> bool {
    s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

impl ServerOrigin {
    /// A server address as the UI or the user gives it: `http` or `https`, `://`, a host,
    /// an optional port, at most a trailing `/`. User info, paths, queries, fragments,
    /// backslashes, spaces and control characters are refused, not cleaned up.
    pub fn parse(address: &str) -> Result<Self, OriginError> {
        let invalid = |reason| OriginError::Invalid { address: address.to_owned(), reason };
        if has_tricky_characters(address) {
            return Err(invalid("spaces, control characters and backslashes are not allowed"));
        }
        let Some((scheme, rest)) = address.split_once("://") else {
            return Err(invalid("expected http://host[:port] or https://host[:port]"));
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(invalid("only http and https servers"));
        }
        if rest.contains('@') {
            return Err(invalid("user info (name@host) is not allowed"));
        }
        let url = Url::parse(address).map_err(|_| invalid("not a valid URL"))?;
        if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("expected a host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a server address has no path, query or fragment"));
        }
        Ok(Self::root_of(url))
    }

    /// A server address as a person types it: `https://` unless `http://` or `https://`
    /// is given, and whatever path, query or fragment follows the host dropped. Any
    /// other scheme, user info (`name@host`) or a missing host is refused: the token
    /// would otherwise travel wherever such an address points. The web UI's
    /// `saveServerAddress` applies this same rule (see `server_address_vectors.json`).
    pub fn from_typed(typed: &str) -> Result<Self, OriginError> {
        let trimmed = typed.trim();
        let invalid = |reason| OriginError::Invalid { address: typed.to_owned(), reason };
        let address = match trimmed.split_once("://") {
            Some((scheme, _))
                if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
            {
                trimmed.to_owned()
            }
            Some(_) => return Err(invalid("only http and https servers")),
            None => format!("https://{trimmed}"),
        };
        let url = Url::parse(&address).map_err(|_| invalid("not a valid URL"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("user info (name@host) is not allowed"));
        }
        Self::of(&url).ok_or_else(|| invalid("expected a host"))
    }

    /// The origin of a URL the client already holds (e.g. [`super::Client::server`]);
    /// `None` unless it is http(s) with a host.
    pub fn of(url: &Url) -> Option<Self> {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return None;
        }
        let mut root = url.clone();
        root.set_path("/");
        root.set_query(None);
        root.set_fragment(None);
        root.set_username("").ok()?;
        root.set_password(None).ok()?;
        Some(Self::root_of(root))
    }

    fn root_of(root: Url) -> Self {
        let ascii = root.origin().ascii_serialization();
        Self { root, ascii }
    }

    /// The server's base address, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.root
    }

    /// `requested`, checked to name this same origin. Refused when it is not a plain
    /// server address or names any other scheme, host or port.
    pub fn check(&self, requested: &str) -> Result<(), OriginError> {
        let requested = Self::parse(requested)?;
        if requested != *self {
            return Err(OriginError::OtherServer {
                requested: requested.to_string(),
                configured: self.to_string(),
            });
        }
        Ok(())
    }

    /// The URL of `path` (path and query, starting with `/api/`) on this server. Refused
    /// when the result would be anywhere else: another host (`//evil.example`), outside
    /// `/api/` (`/api/%2e%2e/x`), with backslashes or control characters.
    pub fn api_url(&self, path: &str) -> Result<Url, OriginError> {
        let bad = || OriginError::BadPath { path: path.to_owned() };
        if !path.starts_with("/api/") || has_tricky_characters(path) || path.contains('#') {
            return Err(bad());
        }
        let url = self.root.join(path).map_err(|_| bad())?;
        let same_place = Self::of(&url).is_some_and(|o| o == *self)
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().starts_with("/api/");
        if !same_place {
            return Err(bad());
        }
        Ok(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> ServerOrigin {
        ServerOrigin::parse("https://server.example").expect("a plain server address")
    }

    #[test]
    fn the_same_origin_in_other_spellings_passes() {
        for same in [
            "https://server.example",
            "https://server.example/",
            "HTTPS://Server.Example",
            "https://server.example:443",
        ] {
            assert_eq!(server().check(same), Ok(()), "{same} names the configured origin");
        }
        let local = ServerOrigin::parse("http://127.0.0.1:4000").expect("address");
        assert_eq!(local.check("http://127.0.0.1:4000/"), Ok(()), "a trailing slash changes nothing");
    }

    #[test]
    fn other_hosts_schemes_and_ports_are_other_servers() {
        for (other, why) in [
            ("https://evil.example", "another host"),
            ("http://server.example", "another scheme (the token would travel in clear)"),
            ("https://server.example:8443", "another port"),
            ("https://server.example.evil.example", "a host that only starts the same"),
            ("https://evil.example?https://server.example", "the configured name in a query"),
            ("https://server.example.", "a trailing dot is another host to the URL standard"),
        ] {
            assert!(
                matches!(
                    server().check(other),
                    Err(OriginError::OtherServer { .. }) | Err(OriginError::Invalid { .. })
                ),
                "{other}: {why}"
            );
            assert_ne!(server().check(other), Ok(()), "{other}: {why}");
        }
        assert!(
            matches!(server().check("https://evil.example"), Err(OriginError::OtherServer { .. })),
            "a well-formed other server is named as such"
        );
    }

    #[test]
    fn tricks_that_hide_another_host_are_refused() {
        for (trick, why) in [
            ("https://server.example@evil.example", "user info: the host is evil.example"),
            ("https://user:pw@server.example", "user info, even on the right host"),
            ("https://server.example%40evil.example", "an encoded @ is not a host"),
            ("//evil.example", "scheme-relative"),
            ("//server.example", "scheme-relative, even to the right host"),
            ("https:\\\\evil.example", "backslashes count as slashes to the URL standard"),
            ("https://server.example\\@evil.example", "a backslash before an @"),
            ("https://evil.example\\server.example", "a backslash hiding the real host"),
            ("https:evil.example", "no // (the URL standard still finds a host)"),
            ("https://evil\t.example", "a tab, which URL parsers drop"),
            ("https://server.example\n", "a newline"),
            (" https://server.example", "leading space"),
            ("https://server.example/evil", "a path"),
            ("https://server.example#@evil.example", "a fragment"),
            ("javascript://server.example", "not http(s)"),
            ("file:///etc/passwd", "not http(s)"),
            ("server.example", "no scheme"),
            ("", "nothing"),
        ] {
            let refused = server().check(trick);
            assert!(
                matches!(refused, Err(OriginError::Invalid { .. }) | Err(OriginError::OtherServer { .. })),
                "{trick:?} must be refused ({why}), got {refused:?}"
            );
        }
    }

    #[test]
    fn api_paths_stay_on_the_server() {
        let url = server().api_url("/api/channels?limit=5").expect("an ordinary call");
        assert_eq!(url.as_str(), "https://server.example/api/channels?limit=5");
        for (path, why) in [
            ("//evil.example/api/x", "scheme-relative: another host"),
            ("/\\evil.example/api/x", "a backslash is a slash: another host"),
            ("/api/\\..\\..\\x", "backslashes"),
            ("/api/%2e%2e/admin", "an encoded dot-dot leaves /api/"),
            ("/api/../admin", "dot-dot leaves /api/"),
            ("https://evil.example/api/x", "an absolute URL"),
            ("/api/x\n", "a control character"),
            ("/api/x#frag", "a fragment"),
            ("/admin", "not under /api/"),
            ("api/x", "not absolute"),
        ] {
            let refused = server().api_url(path);
            assert!(
                matches!(refused, Err(OriginError::BadPath { .. })),
                "{path:?} must be refused ({why}), got {refused:?}"
            );
        }
        let url = server().api_url("/api/users/@me").expect("an @ in a path is only a path");
        assert_eq!(url.host_str(), Some("server.example"), "the host stays the server's");
    }

    #[test]
    fn a_clients_server_url_reduces_to_its_origin() {
        let url = Url::parse("https://server.example/some/path?q#f").expect("url");
        assert_eq!(
            ServerOrigin::of(&url),
            Some(server()),
            "path, query and fragment are not part of an origin"
        );
        assert_eq!(ServerOrigin::of(&Url::parse("file:///x").expect("url")), None, "no http(s) origin");
        assert_eq!(server().to_string(), "https://server.example");
    }

    /// One case of the rule for typed addresses, shared with the web UI's tests.
    #[derive(serde::Deserialize)]
    struct TypedCase {
        typed: String,
        /// The origin kept, or `None` when the address is refused.
        origin: Option<String>,
        why: String,
    }

    #[test]
    fn typed_addresses_follow_the_vectors_the_ui_shares() {
        let cases: Vec<TypedCase> =
            serde_json::from_str(include_str!("server_address_vectors.json")).expect("the vectors parse");
        assert!(cases.len() > 10, "the vectors cover the rule");
        for case in cases {
            let got = ServerOrigin::from_typed(&case.typed).ok().map(|o| o.to_string());
            assert_eq!(got, case.origin, "{:?}: {}", case.typed, case.why);
        }
    }

    #[test]
    fn an_origin_round_trips_through_its_text() {
        let typed = ServerOrigin::from_typed("Chat.Example.org:443/channels").expect("a typed address");
        let json = serde_json::to_string(&typed).expect("serializes");
        assert_eq!(json, "\"https://chat.example.org\"", "stored as the origin's ASCII form");
        let back: ServerOrigin = serde_json::from_str(&json).expect("parses back");
        assert_eq!(back, typed, "the stored form names the same server");
        assert_eq!(back.url().as_str(), "https://chat.example.org/", "the base address joins API paths");
    }
}
