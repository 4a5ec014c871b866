//! The excerpt of a hit: plain-text pieces around the first matching word, with the
//! matching words marked. Built here rather than by either database so both give the
//! same answer, and as pieces rather than markup so no client has to trust the body.

use cromulent_protocol::search::SnippetPart;

use super::Terms;

/// Characters of context kept before the first match.
const CONTEXT_BEFORE: usize = 40;
/// The most characters of body a snippet holds.
const SNIPPET_MAX_CHARS: usize = 160;
const ELLIPSIS: &str = "…";

/// The snippet of `body` for `terms`; from the start of the body when nothing matches
/// (the databases and this code may split a rare word differently).
pub fn snippet(body: &str, terms: &Terms) -> Vec<SnippetPart> {
    // Line breaks and tabs read as spaces in a one-line excerpt.
    let chars: Vec<char> = body.chars().map(|c| if c.is_whitespace() { ' ' } else { c }).collect();
    let words = word_spans(&chars);
    let matched: Vec<(usize, usize)> = words
        .iter()
        .copied()
        .filter(|&(start, end)| terms.matches(&chars[start..end].iter().collect::<String>()))
        .collect();
    let first = matched.first().map_or(0, |&(start, _)| start);
    // Start at a word boundary so the excerpt does not open mid-word.
    let mut start = first.saturating_sub(CONTEXT_BEFORE);
    if start > 0 {
        start = words.iter().map(|&(s, _)| s).find(|&s| s >= start).unwrap_or(first).min(first);
    }
    let mut end = (start + SNIPPET_MAX_CHARS).min(chars.len());
    if end < chars.len() {
        // End after a whole word when one ends in the window past the first match.
        if let Some(&(_, word_end)) = words.iter().rev().find(|&&(s, e)| e <= end && s > first) {
            end = word_end;
        }
    }

    let mut parts = Pieces::default();
    if start > 0 {
        parts.push(ELLIPSIS, false);
    }
    let mut at = start;
    for &(s, e) in matched.iter().filter(|&&(s, e)| s >= start && e <= end) {
        parts.push(&chars[at..s].iter().collect::<String>(), false);
        parts.push(&chars[s..e].iter().collect::<String>(), true);
        at = e;
    }
    parts.push(&chars[at..end].iter().collect::<String>(), false);
    if end < chars.len() {
        parts.push(ELLIPSIS, false);
    }
    parts.0
}

/// Start and end (character indices) of each word: runs of letters and digits.
fn word_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in chars.iter().enumerate() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, chars.len()));
    }
    spans
}

/// Pieces with empty ones left out and neighbours of one kind joined.
#[derive(Default)]
struct Pieces(Vec<SnippetPart>);

impl Pieces {
    fn push(&mut self, text: &str, matched: bool) {
        if text.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(last) if last.matched == matched => last.text.push_str(text),
            _ => self.0.push(SnippetPart { text: text.to_owned(), matched }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(parts: &[SnippetPart]) -> String {
        parts.iter().map(|p| if p.matched { format!("[{}]", p.text) } else { p.text.clone() }).collect()
    }

    fn terms(q: &str) -> Terms {
        Terms::parse(q).expect("valid")
    }

    #[test]
    fn matching_words_are_marked_whole() {
        let parts = snippet("Deploying the\nnew build; deploy <b>now</b>", &terms("deploy"));
        assert_eq!(render(&parts), "[Deploying] the new build; [deploy] <b>now</b>");
    }

    #[test]
    fn long_bodies_are_cut_around_the_first_match() {
        let body = format!("{} needle {}", "hay ".repeat(100), "straw ".repeat(100));
        let text = render(&snippet(&body, &terms("needle")));
        assert!(text.starts_with("…hay "), "cut before, at a word: {text}");
        assert!(text.contains("[needle]"));
        assert!(text.ends_with("straw…"), "cut after, at a word: {text}");
        assert!(text.chars().count() <= SNIPPET_MAX_CHARS + 2);
    }

    #[test]
    fn a_body_without_a_match_shows_its_start() {
        assert_eq!(render(&snippet("plain words", &terms("zzz"))), "plain words");
    }
}
