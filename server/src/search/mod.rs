//! Message search: a query's words, how each database is asked for them, and the
//! snippet shown of a hit ([`snippet`]). The index itself lives in the database (SQLite
//! FTS5, PostgreSQL `tsvector`; see migration 0011) and the query in
//! [`crate::store::search`].
//!
//! A word is a run of letters and digits; everything else separates words, in the
//! query as in the index. Each query word matches every indexed word it begins, so a
//! search still finds a message while its word is being typed; all words must match.

pub mod snippet;

use cromulent_protocol::limits::{SEARCH_QUERY_MAX_CHARS, SEARCH_TERMS_MAX};

/// Why a query cannot be searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadQuery {
    #[error("search for at least one word")]
    Empty,
    #[error("at most {} characters", SEARCH_QUERY_MAX_CHARS)]
    TooLong,
    #[error("at most {} words", SEARCH_TERMS_MAX)]
    TooManyWords,
}

/// The words of a query, lowercased, each once, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms(Vec<String>);

impl Terms {
    pub fn parse(q: &str) -> Result<Self, BadQuery> {
        if q.chars().count() > SEARCH_QUERY_MAX_CHARS {
            return Err(BadQuery::TooLong);
        }
        let mut terms: Vec<String> = Vec::new();
        for word in words(q) {
            let word = word.to_lowercase();
            if !terms.contains(&word) {
                terms.push(word);
            }
        }
        if terms.is_empty() {
            return Err(BadQuery::Empty);
        }
        if terms.len() > SEARCH_TERMS_MAX {
            return Err(BadQuery::TooManyWords);
        }
        Ok(Terms(terms))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    /// An FTS5 `MATCH` expression: every term as a quoted prefix. Terms hold letters and
    /// digits only, so nothing in them can be read as FTS5 syntax.
    pub fn fts5(&self) -> String {
        self.0.iter().map(|t| format!("\"{t}\"*")).collect::<Vec<_>>().join(" ")
    }

    /// A PostgreSQL `to_tsquery` expression: every term as a prefix, all required.
    pub fn tsquery(&self) -> String {
        self.0.iter().map(|t| format!("{t}:*")).collect::<Vec<_>>().join(" & ")
    }

    /// Whether a word of a message (any case) matches one of the terms.
    pub fn matches(&self, word: &str) -> bool {
        let word = word.to_lowercase();
        self.0.iter().any(|t| word.starts_with(t.as_str()))
    }
}

/// The words of `text`: maximal runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// Whether a body links somewhere, for `has=link`: it holds an `http://` or `https://`
/// address (any case), as the migration decided for messages written before it.
pub fn has_link(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    lower.contains("http://") || lower.contains("https://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_split_into_lowercase_words_once_each() {
        let terms = Terms::parse("  Deploy, deploy-TOOL! café ").expect("valid");
        assert_eq!(terms.as_slice(), ["deploy", "tool", "café"]);
        assert_eq!(terms.fts5(), "\"deploy\"* \"tool\"* \"café\"*");
        assert_eq!(terms.tsquery(), "deploy:* & tool:* & café:*");
    }

    #[test]
    fn syntax_of_either_database_is_only_a_separator() {
        let terms = Terms::parse("a\" OR b* NEAR(c) | !d & e:*").expect("valid");
        assert_eq!(terms.as_slice(), ["a", "or", "b", "near", "c", "d", "e"]);
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(Terms::parse(" -- ").expect_err("no words"), BadQuery::Empty);
        assert_eq!(
            Terms::parse(&"a".repeat(SEARCH_QUERY_MAX_CHARS + 1)).expect_err("too long"),
            BadQuery::TooLong
        );
        let many: Vec<String> = (0..=SEARCH_TERMS_MAX).map(|i| format!("w{i}")).collect();
        assert_eq!(Terms::parse(&many.join(" ")).expect_err("too many words"), BadQuery::TooManyWords);
    }

    #[test]
    fn words_match_by_prefix_without_case() {
        let terms = Terms::parse("depl").expect("valid");
        assert!(terms.matches("Deployment"));
        assert!(!terms.matches("redeploy"), "a term matches the start of a word only");
    }

    #[test]
    fn links_are_http_addresses() {
        assert!(has_link("see HTTPS://example.com/x"));
        assert!(has_link("http://a"));
        assert!(!has_link("example.com and ftp://x"));
    }
}
