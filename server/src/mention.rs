//! `@mentions` in a message's Markdown source: which names it calls out, outside code.
//!
//! Pure text work: this finds `@name`, `@here` and `@everyone`; [`crate::store`] then
//! resolves names to users (first) or groups, and the message handlers turn them into
//! mention rows and notifications. Rules, chosen so that what a reader sees as a mention
//! is one:
//! - a name is a run of [`is_name_char`]s; a trailing `.` ends the sentence, not the name;
//! - `@` right after a name character (`ann@example.com`) or a `/` (`host/@ann`, a URL
//!   path) is part of a word, not a mention; `\@ann` is an escaped, literal `@`;
//! - nothing inside inline code (`` `@ann` ``, any number of backticks) or a fenced code
//!   block (```` ``` ```` or `~~~`) counts: code is quoted, not addressed.
//!
//! The web client finds mentions in the text it renders by the same rules; both run the
//! cases in `shared-protocol/tests/vectors/mentions.json`.

use cromulent_protocol::limits::{GROUP_NAME_MAX_CHARS, USERNAME_MAX_CHARS};

use crate::validate::is_name_char;

/// Distinct names resolved per message. Each costs a lookup inside the write
/// transaction; a message naming more people than this notifies the first ones.
pub const MAX_NAMES: usize = 64;

/// What a message calls out, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Lower-cased names (the lookup key for users and groups), in order of first use.
    pub names: Vec<String>,
    pub here: bool,
    pub everyone: bool,
}

/// Finds the mentions in `source`.
pub fn parse(source: &str) -> Parsed {
    let prose = without_fenced_code(source);
    let chars: Vec<char> = prose.chars().collect();
    let longest = USERNAME_MAX_CHARS.max(GROUP_NAME_MAX_CHARS);
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            // An escaped character is literal, whatever it is.
            '\\' => i += 2,
            '`' => i = after_code_span(&chars, i),
            '@' => {
                let starts_word = i == 0 || !(is_name_char(chars[i - 1]) || chars[i - 1] == '/');
                let end =
                    chars[i + 1..].iter().position(|&c| !is_name_char(c)).map_or(chars.len(), |n| i + 1 + n);
                let name: String = chars[i + 1..end].iter().collect();
                let name = name.trim_end_matches('.');
                if starts_word && !name.is_empty() && name.chars().count() <= longest {
                    parsed.add(&name.to_lowercase());
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    parsed
}

impl Parsed {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.here && !self.everyone
    }

    fn add(&mut self, key: &str) {
        match key {
            "here" => self.here = true,
            "everyone" => self.everyone = true,
            _ if self.names.len() < MAX_NAMES && !self.names.iter().any(|n| n == key) => {
                self.names.push(key.to_owned());
            }
            _ => {}
        }
    }
}

/// Where scanning resumes after the backtick run at `start`: past the matching closing
/// run (a code span), or past the run itself when nothing closes it (literal backticks).
fn after_code_span(chars: &[char], start: usize) -> usize {
    let run = |at: usize| chars[at..].iter().take_while(|&&c| c == '`').count();
    let open = run(start);
    let mut i = start + open;
    while i < chars.len() {
        if chars[i] == '`' {
            let close = run(i);
            if close == open {
                return i + close;
            }
            i += close;
        } else {
            i += 1;
        }
    }
    start + open
}

/// The source with every fenced code block (fences included) blanked out. A fence is
/// three or more backticks or tildes, indented at most three spaces; it closes with a
/// run of the same character at least as long, and an unclosed fence runs to the end.
fn without_fenced_code(source: &str) -> String {
    let mut prose = String::with_capacity(source.len());
    let mut open: Option<(char, usize)> = None;
    for line in source.split_inclusive('\n') {
        let fence = fence_of(line);
        match (open, fence) {
            (None, Some(f)) => open = Some(f),
            (None, None) => prose.push_str(line),
            (Some((c, n)), Some((fc, fn_))) if fc == c && fn_ >= n && is_bare_fence(line) => open = None,
            (Some(_), _) => {}
        }
        if !prose.ends_with('\n') {
            // Blanked lines still separate words on either side.
            prose.push('\n');
        }
    }
    prose
}

/// The fence character and length if `line` opens or closes a fence.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let indent = line.chars().take_while(|&c| c == ' ').count();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let c = rest.chars().next().filter(|&c| c == '`' || c == '~')?;
    let len = rest.chars().take_while(|&x| x == c).count();
    // A backtick fence's info string holds no backticks; "```x``` y" is inline code.
    let info_ok = c == '~' || !rest[len..].contains('`');
    (len >= 3 && info_ok).then_some((c, len))
}

/// A closing fence carries nothing but the fence characters and whitespace.
fn is_bare_fence(line: &str) -> bool {
    let trimmed = line.trim();
    trimmed.chars().all(|c| c == '`') || trimmed.chars().all(|c| c == '~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<String> {
        parse(source).names
    }

    #[test]
    fn names_are_found_and_lower_cased_in_order_without_repeats() {
        assert_eq!(
            names("hi @Ann and @bob_99, also @ann"),
            ["ann", "bob_99"],
            "keys are case-free and unique"
        );
        assert_eq!(names("@zoë-x!"), ["zoë-x"], "unicode letters and '-' belong to names");
        assert!(names("no mentions here").is_empty());
    }

    #[test]
    fn a_trailing_full_stop_ends_the_sentence_not_the_name() {
        assert_eq!(names("thanks @ann."), ["ann"]);
        assert_eq!(names("ping @j.doe..."), ["j.doe"], "inner dots are part of the name");
    }

    #[test]
    fn email_addresses_and_url_paths_are_not_mentions() {
        assert!(names("write to ann@example.com").is_empty(), "an @ inside a word is an address");
        assert!(names("see https://social.example/@ann").is_empty(), "a URL path is not a call-out");
        assert!(names(r"a literal \@ann").is_empty(), "an escaped @ is literal");
        assert_eq!(names("(@ann) and \"@bob\""), ["ann", "bob"], "punctuation may precede a mention");
        assert!(names("@ alone and @").is_empty(), "a bare @ names nobody");
    }

    #[test]
    fn here_and_everyone_are_flags_not_names() {
        let p = parse("@Here and @everyone, @ann");
        assert!(p.here && p.everyone, "both keywords are recognised without case");
        assert_eq!(p.names, ["ann"], "keywords never resolve as users or groups");
        assert!(parse("plain").is_empty());
    }

    #[test]
    fn inline_code_is_quoted_not_addressed() {
        assert!(names("run `ping @ann` now").is_empty());
        assert!(names("``code with ` and @ann``").is_empty(), "longer runs close only on the same length");
        assert_eq!(names("`@ann` but @bob"), ["bob"], "mentions after a code span still count");
        assert_eq!(names("a lone ` then @ann"), ["ann"], "an unclosed backtick is a literal character");
    }

    #[test]
    fn fenced_code_blocks_are_ignored() {
        let src = "before @ann\n```rust\nlet x = \"@bob\";\n```\nafter @carol\n~~~~\n@dave\n~~~\n@erin\n~~~~\n@frank";
        assert_eq!(
            names(src),
            ["ann", "carol", "frank"],
            "fences close with the same character, at least as long"
        );
        assert!(names("```\n@ann\n").is_empty(), "an unclosed fence runs to the end of the message");
        assert_eq!(
            names("```code``` then @ann"),
            ["ann"],
            "backticks inside the info string make a code span, not a fence"
        );
    }

    /// The cases the web client's renderer runs too, so both find the same mentions.
    #[test]
    fn the_shared_mention_vectors_hold() {
        #[derive(serde::Deserialize)]
        struct Case {
            source: String,
            names: Vec<String>,
            here: bool,
            everyone: bool,
            why: String,
        }
        #[derive(serde::Deserialize)]
        struct Vectors {
            cases: Vec<Case>,
        }
        let vectors: Vectors =
            serde_json::from_str(include_str!("../../shared-protocol/tests/vectors/mentions.json"))
                .expect("the vectors file is well-formed");
        assert!(!vectors.cases.is_empty(), "the vectors file lists cases");
        for case in vectors.cases {
            let parsed = parse(&case.source);
            let expected = Parsed { names: case.names, here: case.here, everyone: case.everyone };
            assert_eq!(parsed, expected, "{:?}: {}", case.source, case.why);
        }
    }

    #[test]
    fn overlong_names_and_too_many_names_are_bounded() {
        let long = format!("@{}", "a".repeat(USERNAME_MAX_CHARS.max(GROUP_NAME_MAX_CHARS) + 1));
        assert!(names(&long).is_empty(), "no account or group can have a name that long");
        let many: String = (0..MAX_NAMES + 10).map(|i| format!("@user{i} ")).collect();
        assert_eq!(names(&many).len(), MAX_NAMES, "lookups per message are capped");
    }
}
