//! Reading a page's Open Graph tags, `<title>` and description meta out of its HTML.
//!
//! A small tag scanner rather than a full HTML parser: previews need a handful of tags
//! from the head, and a scanner that never builds a tree cannot be made to allocate
//! much by a hostile page (the body is already capped by the fetcher).

/// Longest title, description and site name kept, in characters.
const TITLE_MAX_CHARS: usize = 300;
const DESCRIPTION_MAX_CHARS: usize = 1000;
const SITE_NAME_MAX_CHARS: usize = 100;
/// Longer image addresses are dropped rather than cut, since a cut one is broken.
const IMAGE_URL_MAX_CHARS: usize = 2048;

/// What a page says about itself; `image` is as written in the page (maybe relative).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PageMeta {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub site_name: Option<String>,
}

/// Reads the preview fields: Open Graph first, then `<title>` and `<meta name=description>`.
/// Values are entity-decoded, whitespace-collapsed and length-capped.
pub fn parse(html: &str) -> PageMeta {
    let mut og = PageMeta::default();
    let mut title_tag = None;
    let mut description_meta = None;
    let lower = html.to_ascii_lowercase();
    let mut pos = 0;
    while let Some(found) = lower[pos..].find('<') {
        let start = pos + found;
        let rest = &lower[start..];
        if rest.starts_with("<!--") {
            pos = rest.find("-->").map_or(lower.len(), |end| start + end + 3);
            continue;
        }
        let Some(tag_end) = tag_end(&lower, start) else { break };
        let name = tag_name(&lower[start + 1..tag_end]);
        match name {
            "meta" => {
                let attrs = attributes(&html[start + 1 + name.len()..tag_end]);
                let get = |key: &str| attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
                let content = get("content");
                match (get("property").or(get("name")).map(str::to_ascii_lowercase).as_deref(), content) {
                    (Some("og:title"), Some(c)) => set_once(&mut og.title, c),
                    (Some("og:description"), Some(c)) => set_once(&mut og.description, c),
                    (Some("og:image" | "og:image:url" | "og:image:secure_url"), Some(c)) => {
                        set_once(&mut og.image, c)
                    }
                    (Some("og:site_name"), Some(c)) => set_once(&mut og.site_name, c),
                    (Some("description"), Some(c)) => set_once(&mut description_meta, c),
                    _ => {}
                }
                pos = tag_end + 1;
            }
            "title" | "script" | "style" => {
                let close = format!("</{name}");
                let body_start = tag_end + 1;
                let body_end = lower[body_start..].find(&close).map_or(lower.len(), |e| body_start + e);
                if name == "title" && title_tag.is_none() {
                    title_tag = Some(html[body_start..body_end].to_owned());
                }
                pos = body_end;
            }
            _ => pos = tag_end + 1,
        }
    }
    PageMeta {
        title: clean(og.title.or(title_tag), TITLE_MAX_CHARS),
        description: clean(og.description.or(description_meta), DESCRIPTION_MAX_CHARS),
        image: clean(og.image, usize::MAX).filter(|u| u.chars().count() <= IMAGE_URL_MAX_CHARS),
        site_name: clean(og.site_name, SITE_NAME_MAX_CHARS),
    }
}

/// The first value wins, as Open Graph readers do.
fn set_once(slot: &mut Option<String>, value: &str) {
    if slot.is_none() {
        *slot = Some(value.to_owned());
    }
}

/// The `>` closing the tag opened at `start`, skipping `>` inside quoted values.
fn tag_end(lower: &str, start: usize) -> Option<usize> {
    let mut quote = None;
    for (i, b) in lower.bytes().enumerate().skip(start + 1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if q == b => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn tag_name(tag: &str) -> &str {
    let end = tag.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(tag.len());
    &tag[..end]
}

/// `key=value` pairs of a tag; keys lowercased, values raw (not yet decoded).
fn attributes(mut s: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '/');
        if s.is_empty() {
            return attrs;
        }
        let key_end = s.find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/').unwrap_or(s.len());
        let key = s[..key_end].to_ascii_lowercase();
        s = s[key_end..].trim_start();
        let value = if let Some(after) = s.strip_prefix('=') {
            let after = after.trim_start();
            match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = &after[1..];
                    let end = inner.find(q).unwrap_or(inner.len());
                    s = inner.get(end + 1..).unwrap_or("");
                    &inner[..end]
                }
                _ => {
                    let end = after.find(|c: char| c.is_ascii_whitespace()).unwrap_or(after.len());
                    s = &after[end..];
                    &after[..end]
                }
            }
        } else {
            ""
        };
        attrs.push((key, value.to_owned()));
    }
}

/// Decodes entities, collapses whitespace and cuts to `max` characters; empty is none.
fn clean(value: Option<String>, max: usize) -> Option<String> {
    let decoded = decode_entities(&value?);
    let collapsed = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(max).collect();
    (!cut.is_empty()).then_some(cut)
}

/// The entities pages use in titles: numeric ones and the common named few. Unknown
/// names are left as written.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // Names are short; looking further would make a page full of `&` quadratic.
        let entity = rest.bytes().skip(1).take(12).position(|b| b == b';').map(|n| &rest[1..=n]);
        let decoded = entity.and_then(|name| match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => {
                let code = match name.strip_prefix('#')? {
                    hex if hex.starts_with(['x', 'X']) => u32::from_str_radix(&hex[1..], 16).ok()?,
                    dec => dec.parse().ok()?,
                };
                char::from_u32(code).filter(|c| *c != '\0')
            }
        });
        match (decoded, entity) {
            (Some(c), Some(name)) => {
                out.push(c);
                rest = &rest[name.len() + 2..];
            }
            _ => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_graph_wins_over_title_and_description() {
        let html = r#"<html><head><title>Plain</title>
            <meta name="description" content="plain description">
            <meta property="og:title" content="Rich &amp; &#8220;quoted&#x201D;">
            <META PROPERTY='og:description' CONTENT='About  &lt;b&gt;
              things'>
            <meta property=og:image content=/img/a.png>
            <meta content="Example Site" property="og:site_name" /></head></html>"#;
        let meta = parse(html);
        assert_eq!(meta.title.as_deref(), Some("Rich & \u{201c}quoted\u{201d}"), "og:title, decoded");
        assert_eq!(
            meta.description.as_deref(),
            Some("About <b> things"),
            "decoded and whitespace collapsed, never markup"
        );
        assert_eq!(
            meta.image.as_deref(),
            Some("/img/a.png"),
            "unquoted values are read; made absolute later"
        );
        assert_eq!(meta.site_name.as_deref(), Some("Example Site"), "attribute order does not matter");
    }

    #[test]
    fn title_and_description_meta_are_the_fallback() {
        let html = "<head><!-- <title>comment</title> --><script>var t = '<title>no</title>';</script>\
                    <title>\n  The  Title </title><meta name=Description content=\"Desc\"></head>";
        let meta = parse(html);
        assert_eq!(meta.title.as_deref(), Some("The Title"), "comments and scripts are skipped");
        assert_eq!(meta.description.as_deref(), Some("Desc"), "name=description, any case");
        assert_eq!(meta.image, None, "no image tag, no image");
    }

    #[test]
    fn fields_are_length_capped_and_empty_ones_dropped() {
        let html = format!(
            "<meta property=og:title content=\"{}\"><meta property=og:site_name content=\"  \">",
            "é".repeat(5000)
        );
        let meta = parse(&html);
        assert_eq!(
            meta.title.map(|t| t.chars().count()),
            Some(TITLE_MAX_CHARS),
            "cut on characters, not bytes"
        );
        assert_eq!(meta.site_name, None, "blank is no value");
    }

    #[test]
    fn broken_markup_does_not_panic() {
        for html in [
            "<",
            "<meta",
            "<meta content='x",
            "<title>open",
            "&#xffffffff; &#0; &bogus; &",
            "<a href=\"></a>",
        ] {
            let _ = parse(html);
        }
        assert_eq!(
            decode_entities("a &#0; &nope; & b"),
            "a &#0; &nope; & b",
            "unknown entities stay as written"
        );
    }
}
