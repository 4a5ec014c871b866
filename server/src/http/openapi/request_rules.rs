//! What the server accepts in each request field, in the document's own terms
//! (`pattern`, `minLength`, `minimum`, …), so a client can tell a good request from a
//! bad one before sending it, and a generated request the document calls valid is one
//! the server takes.
//!
//! Each rule mirrors a check in `validate.rs` or a handler; the limits come from the
//! same constants and settings. The server trims surrounding white space before it
//! checks, so every pattern allows it. Patterns spell their character classes out
//! (no `\w` or `\s`, whose meaning differs between regex dialects): the classes of
//! name characters are computed from the very predicates the server checks with.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use cromulent_protocol::dm::DM_OTHERS_MAX;
use cromulent_protocol::limits::*;
use cromulent_protocol::moderation::{AUDIT_LOG_PAGE_MAX, MODERATION_REASON_MAX_CHARS};
use cromulent_protocol::notification::NOTIFICATION_PAGE_MAX;
use serde_json::{json, Value};

use super::common_responses::add_response;
use crate::config::LimitsConfig;
use crate::http::channels::is_channel_name_char;
use crate::http::invites::MIN_LIFETIME_SECS;
use crate::validate::is_name_char;

/// The characters Rust's `char::is_whitespace` (and so `str::trim`) takes as white space.
const SPACE: &str = r"\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// The characters `char::is_control` refuses (Unicode's `Cc`).
const CONTROL: &str = r"\x00-\x1f\x7f-\x9f";
/// `Cc` without tab, line feed and carriage return, which a message may hold.
const CONTROL_BUT_LINES: &str = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f";
/// `here` and `everyone`, in any case: they are mentions, not names.
const RESERVED_NAME: &str = r"(?:[Hh][Ee][Rr][Ee]|[Ee][Vv][Ee][Rr][Yy][Oo][Nn][Ee])";
/// Ids are 64-bit signed integers written in decimal; 18 digits always fit.
pub const ID_PATTERN: &str = r"^[+-]?[0-9]{1,18}$";

fn trimmed(core: &str) -> String {
    format!("^[{SPACE}]*{core}[{SPACE}]*$")
}

fn email() -> Value {
    let part = format!("[^@{SPACE}{CONTROL}]");
    let label_end = format!("[^@.{SPACE}{CONTROL}]");
    json!({
        "pattern": trimmed(&format!("{part}+@{label_end}{part}*\\.{part}*{label_end}")),
        "maxLength": EMAIL_MAX_CHARS,
        "description": "an email address like name@example.com",
    })
}

// Each class walks every Unicode scalar value once, so it is computed once.
static NAME_CHAR: LazyLock<String> = LazyLock::new(|| class_of(is_name_char));
/// A name does not end in '.': it would read as the end of the sentence.
static NAME_END_CHAR: LazyLock<String> = LazyLock::new(|| class_of(|c| is_name_char(c) && c != '.'));
/// Channel names are lower-cased before the check.
static CHANNEL_NAME_CHAR: LazyLock<String> =
    LazyLock::new(|| class_of(|c| c.to_lowercase().all(is_channel_name_char)));

/// The characters `allowed` accepts, as a regex class of literal characters and ranges.
fn class_of(allowed: impl Fn(char) -> bool) -> String {
    let mut ranges: Vec<(char, char)> = Vec::new();
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32).filter(|&c| allowed(c)) {
        match ranges.last_mut() {
            Some((_, last)) if u32::from(*last) + 1 == u32::from(c) => *last = c,
            _ => ranges.push((c, c)),
        }
    }
    let literal = |c: char| {
        let escape = matches!(c, '\\' | ']' | '[' | '^' | '-');
        if escape {
            format!("\\{c}")
        } else {
            c.to_string()
        }
    };
    let mut class = String::from("[");
    for (first, last) in ranges {
        class.push_str(&literal(first));
        if last != first {
            if u32::from(last) > u32::from(first) + 1 {
                class.push('-');
            }
            class.push_str(&literal(last));
        }
    }
    class.push(']');
    class
}

/// Usernames and group names: what an `@mention` can reach.
fn mentionable_name(min: usize, max: usize) -> Value {
    let core = format!("{}{{{},{}}}{}", *NAME_CHAR, min - 1, max - 1, *NAME_END_CHAR);
    json!({
        "pattern": trimmed(&core),
        // `type` inside, so a `null` (no change) is not refused by the `not`.
        "not": { "type": "string", "pattern": trimmed(RESERVED_NAME) },
        "description": format!(
            "{min} to {max} letters, digits, '_', '-' or '.', not ending in '.'; not `here` or `everyone`"
        ),
    })
}

fn password() -> Value {
    json!({ "minLength": PASSWORD_MIN_CHARS, "maxLength": PASSWORD_MAX_CHARS })
}

/// Free text: at most `max` characters once trimmed, no control characters.
fn text(max: usize) -> Value {
    json!({ "pattern": trimmed(&format!("[^{CONTROL}]{{0,{max}}}")) })
}

fn channel_name() -> Value {
    json!({
        "pattern": trimmed(&format!("{}{{1,{CHANNEL_NAME_MAX_CHARS}}}", *CHANNEL_NAME_CHAR)),
        "description": "letters, digits, '-' and '_'; stored lower-cased",
    })
}

fn colour() -> Value {
    json!({ "pattern": trimmed("#[0-9A-Fa-f]{6}"), "example": "#1e90ff" })
}

fn message_body() -> Value {
    let first = format!("[^{SPACE}{CONTROL_BUT_LINES}]");
    let rest = format!("[^{CONTROL_BUT_LINES}]{{0,{}}}", MESSAGE_BODY_MAX_CHARS - 1);
    // Empty is a valid shape: a message that carries files needs no text. Whether this
    // message does is not the body's to say, so an empty text-only message is a 422.
    json!({
        "pattern": trimmed(&format!("(?:{first}{rest})?")),
        "description": format!(
            "Markdown, at most {MESSAGE_BODY_MAX_CHARS} characters once trimmed, no control characters \
             but line breaks and tabs; empty (or white space) only in a message with files"
        ),
    })
}

/// An http(s) address without white space, at most the limit once trimmed; empty clears.
fn avatar_url() -> Value {
    let rest = |scheme: &str| {
        let max = AVATAR_URL_MAX_CHARS - scheme.len();
        format!("[^{SPACE}{CONTROL}]{{0,{max}}}")
    };
    let (https, http) = (rest("https://"), rest("http://"));
    let url = format!("(?:[Hh][Tt][Tt][Pp][Ss]://{https}|[Hh][Tt][Tt][Pp]://{http})?");
    json!({ "pattern": trimmed(&url) })
}

fn range(minimum: i64, maximum: i64) -> Value {
    json!({ "minimum": minimum, "maximum": maximum })
}

/// Every `(schema, field, rule)` the server checks.
fn field_rules(limits: &LimitsConfig) -> Vec<(&'static str, &'static str, Value)> {
    let username = || mentionable_name(USERNAME_MIN_CHARS, USERNAME_MAX_CHARS);
    vec![
        ("RegisterRequest", "email", email()),
        ("RegisterRequest", "username", username()),
        ("RegisterRequest", "password", password()),
        ("CreateUserRequest", "email", email()),
        ("CreateUserRequest", "username", username()),
        ("CreateUserRequest", "password", password()),
        ("ResetPasswordRequest", "password", password()),
        ("ChangePasswordRequest", "new_password", password()),
        ("ChangeEmailRequest", "new_email", email()),
        ("LoginRequest", "device_name", text(DEVICE_NAME_MAX_CHARS)),
        ("LoginRequest", "device_type", text(DEVICE_NAME_MAX_CHARS)),
        ("UpdateProfileRequest", "display_name", text(DISPLAY_NAME_MAX_CHARS)),
        ("UpdateProfileRequest", "avatar_url", avatar_url()),
        ("UpdateProfileRequest", "vad_threshold_db", range(-100, 0)),
        ("CreateChannelRequest", "name", channel_name()),
        ("CreateChannelRequest", "topic", text(CHANNEL_TOPIC_MAX_CHARS)),
        ("UpdateChannelRequest", "name", channel_name()),
        ("UpdateChannelRequest", "topic", text(CHANNEL_TOPIC_MAX_CHARS)),
        ("CreateGroupRequest", "name", mentionable_name(1, GROUP_NAME_MAX_CHARS)),
        ("CreateGroupRequest", "colour", colour()),
        ("UpdateGroupRequest", "name", mentionable_name(1, GROUP_NAME_MAX_CHARS)),
        ("UpdateGroupRequest", "colour", colour()),
        ("SendMessageRequest", "body", message_body()),
        ("SendMessageRequest", "nonce", text(NONCE_MAX_CHARS)),
        (
            "SendMessageRequest",
            "attachment_ids",
            json!({ "maxItems": MESSAGE_ATTACHMENTS_MAX, "uniqueItems": true }),
        ),
        ("EditMessageRequest", "body", message_body()),
        (
            "UpdateNotificationSettingsRequest",
            "mute_for_secs",
            range(1, i64::try_from(CHANNEL_MUTE_MAX_SECS).expect("a year of seconds fits")),
        ),
        ("CreateInviteRequest", "max_uses", range(1, limits.invite_max_uses.into())),
        (
            "CreateInviteRequest",
            "expires_in_secs",
            range(MIN_LIFETIME_SECS, limits.invite_max_lifetime_secs.into()),
        ),
        ("TimeoutRequest", "duration_secs", range(1, limits.moderation_timeout_max_secs.into())),
        ("TimeoutRequest", "reason", text(MODERATION_REASON_MAX_CHARS)),
        ("BanRequest", "reason", text(MODERATION_REASON_MAX_CHARS)),
        ("BanRequest", "delete_messages_hours", range(0, limits.ban_delete_messages_max_hours.into())),
        ("OpenDmRequest", "user_ids", json!({ "minItems": 1, "maxItems": DM_OTHERS_MAX })),
    ]
}

pub fn apply(document: &mut Value, limits: &LimitsConfig) {
    let rules = field_rules(limits);
    let ruled: BTreeSet<&str> = rules.iter().map(|(schema, _, _)| *schema).collect();
    if let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        // Ids are decimal strings; requests may also carry them as JSON numbers.
        schemas.insert(
            "Id".into(),
            json!({
                "description": "a 64-bit id, sent as a decimal string; requests may send a number",
                "oneOf": [
                    { "type": "string", "pattern": ID_PATTERN },
                    { "type": "integer", "format": "int64" }
                ],
                "example": "118925392218112"
            }),
        );
        for (schema, field, keywords) in rules {
            let target = schemas.get_mut(schema).and_then(|s| s.pointer_mut(&format!("/properties/{field}")));
            let Some(target) = target.and_then(Value::as_object_mut) else {
                panic!("the request rules name {schema}.{field}, which the document does not have");
            };
            target.extend(keywords.as_object().expect("a rule is an object").clone());
        }
        // Everyone joins a default channel, so one cannot be created private too.
        if let Some(create) = schemas.get_mut("CreateChannelRequest").and_then(Value::as_object_mut) {
            create.insert(
                "not".into(),
                json!({
                    "required": ["is_default", "is_private"],
                    "properties": { "is_default": { "const": true }, "is_private": { "const": true } }
                }),
            );
        }
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else { continue };
            for operation in item.values_mut() {
                // A body whose fields have rules can break them.
                let body = operation.pointer("/requestBody/content/application~1json/schema/$ref");
                let body = body.and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"));
                if body.is_some_and(|name| ruled.contains(name)) {
                    if let Some(operation) = operation.as_object_mut() {
                        add_response(operation, "422", "a field breaks its rule (see the request schema)");
                    }
                }
                let parameters = operation.get_mut("parameters").and_then(Value::as_array_mut);
                for parameter in parameters.into_iter().flatten() {
                    describe_parameter(path, parameter);
                }
            }
        }
    }
}

/// Every emoji a reaction may be, in the spelling the server stores: the same list the
/// server checks against, so a generated reaction the document calls valid is taken.
fn emoji_list() -> Value {
    let all: Vec<&str> = emojis::iter().map(emojis::Emoji::as_str).collect();
    json!({ "type": "string", "enum": all })
}

/// Letters and digits: what makes up a search word (`search::Terms`).
static WORD_CHAR: LazyLock<String> = LazyLock::new(|| class_of(char::is_alphanumeric));

/// A search query: 1 to `SEARCH_TERMS_MAX` words with anything else between them, at
/// most `SEARCH_QUERY_MAX_CHARS` characters.
fn search_query() -> Value {
    let word = &*WORD_CHAR;
    let other = format!("[^{}]", &word[1..word.len() - 1]);
    json!({
        "type": "string",
        "maxLength": SEARCH_QUERY_MAX_CHARS,
        "pattern": format!("^{other}*(?:{word}+{other}*){{1,{SEARCH_TERMS_MAX}}}$"),
    })
}

/// Ids in paths and queries, page sizes and reaction emoji.
fn describe_parameter(path: &str, parameter: &mut Value) {
    let name = parameter["name"].as_str().unwrap_or_default().to_owned();
    let schema = match name.as_str() {
        // Search bounds are times in ms, not message ids.
        "before" | "after" if path == "/api/search" => json!({ "type": "integer", "format": "int64" }),
        "q" if path == "/api/search" => search_query(),
        "id" | "before" | "after" | "around" => json!({ "type": "string", "pattern": ID_PATTERN }),
        name if name.ends_with("_id") => json!({ "type": "string", "pattern": ID_PATTERN }),
        "emoji" => emoji_list(),
        "limit" => {
            let max = if path.starts_with("/api/notifications") {
                NOTIFICATION_PAGE_MAX
            } else if path.starts_with("/api/admin/audit_log") {
                AUDIT_LOG_PAGE_MAX
            } else if path.ends_with("/members") {
                MEMBER_PAGE_MAX
            } else if path == "/api/search" {
                SEARCH_RESULTS_MAX
            } else {
                MESSAGE_PAGE_MAX
            };
            json!({ "type": "integer", "format": "int32", "minimum": 1, "maximum": max })
        }
        _ => return,
    };
    parameter["schema"] = schema;
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        regex::Regex::new(pattern).expect("the pattern compiles").is_match(text)
    }

    fn pattern_of(rule: &Value) -> &str {
        rule["pattern"].as_str().expect("the rule has a pattern")
    }

    #[test]
    fn search_queries_need_a_word_and_at_most_the_word_limit() {
        let pattern = search_query()["pattern"].as_str().expect("a pattern").to_owned();
        assert!(matches(&pattern, "deploy notes"));
        assert!(matches(&pattern, "  café, déjà-vu! "), "letters of any script");
        assert!(!matches(&pattern, " -- "), "punctuation alone is no word");
        let words: Vec<String> = (0..=SEARCH_TERMS_MAX).map(|i| format!("w{i}")).collect();
        assert!(!matches(&pattern, &words.join(" ")));
        assert!(matches(&pattern, &words[..SEARCH_TERMS_MAX].join(" ")));
    }

    /// A name is valid when it matches the pattern and not the reserved one.
    fn name_ok(rule: &Value, text: &str) -> bool {
        matches(pattern_of(rule), text) && !matches(pattern_of(&rule["not"]), text)
    }

    #[test]
    fn every_listed_emoji_is_one_a_reaction_takes() {
        let Value::Array(all) = &emoji_list()["enum"] else { panic!("the emoji rule is an enum") };
        assert!(all.len() > 1000, "the whole list, not a sample");
        for emoji in all {
            let emoji = emoji.as_str().expect("a string");
            assert_eq!(crate::http::reactions::emoji(emoji).ok(), Some(emoji), "{emoji} is stored as listed");
        }
    }

    #[test]
    fn a_computed_class_holds_exactly_the_characters_of_its_predicate() {
        let class = regex::Regex::new(&format!("^{}$", class_of(is_name_char))).expect("compiles");
        for c in (0..=u32::from(char::MAX)).step_by(3).filter_map(char::from_u32) {
            assert_eq!(class.is_match(&c.to_string()), is_name_char(c), "{c:?}");
        }
    }

    #[test]
    fn patterns_say_what_validate_says() {
        let email = pattern_of(&email()).to_owned();
        for good in ["a@b.c", "  Alice@Example.COM ", "x@a..b"] {
            assert!(matches(&email, good), "{good:?}");
            assert!(crate::validate::email(good).is_ok(), "{good:?}");
        }
        for bad in ["", "alice", "a@b", "a@@b.c", "a b@c.d", "@b.c", "a@b.c.", "a@.b.c"] {
            assert!(!matches(&email, bad), "{bad:?}");
            assert!(crate::validate::email(bad).is_err(), "{bad:?}");
        }
        let name = mentionable_name(USERNAME_MIN_CHARS, USERNAME_MAX_CHARS);
        for good in [" zoë_99 ", "ab", "here2", "Dev.Ops_2"] {
            assert!(crate::validate::username(good).is_ok(), "{good:?}");
            assert!(name_ok(&name, good), "{good:?}");
        }
        for bad in ["a", "has space", "at@sign", "everyone", "Here ", "trailing.", &"x".repeat(33)] {
            assert!(crate::validate::username(bad).is_err(), "{bad:?}");
            assert!(!name_ok(&name, bad), "{bad:?}");
        }
        let text = pattern_of(&text(5)).to_owned();
        for good in ["", "  ", " abcde ", "\tab c\n"] {
            assert!(crate::validate::optional_text(Some(good), "f", 5).is_ok(), "{good:?}");
            assert!(matches(&text, good), "{good:?}");
        }
        for bad in ["abcdef", "a\u{7}b", "a\nb"] {
            assert!(crate::validate::optional_text(Some(bad), "f", 5).is_err(), "{bad:?}");
            assert!(!matches(&text, bad), "{bad:?}");
        }
        let avatar = pattern_of(&avatar_url()).to_owned();
        for good in ["", " https://x.example/a.png ", "HTTP://x"] {
            assert!(crate::validate::avatar_url(Some(good)).is_ok(), "{good:?}");
            assert!(matches(&avatar, good), "{good:?}");
        }
        let longest = format!("http://{}", "x".repeat(AVATAR_URL_MAX_CHARS - 7));
        assert!(crate::validate::avatar_url(Some(&longest)).is_ok() && matches(&avatar, &longest));
        let too_long = format!("https://{}", "x".repeat(AVATAR_URL_MAX_CHARS - 7));
        for bad in ["javascript:alert(1)", "https://a b", &too_long] {
            assert!(crate::validate::avatar_url(Some(bad)).is_err(), "{bad:?}");
            assert!(!matches(&avatar, bad), "{bad:?}");
        }
        let body = pattern_of(&message_body()).to_owned();
        assert!(matches(&body, " hello\r\n\tworld "));
        assert!(matches(&body, " \n "), "white space alone is a message's shape when it carries files");
        assert!(matches(&body, &"é".repeat(MESSAGE_BODY_MAX_CHARS)));
        assert!(!matches(&body, &"a".repeat(MESSAGE_BODY_MAX_CHARS + 1)));
        assert!(!matches(&body, "bell\u{7}"));
    }

    #[test]
    fn every_rule_names_a_field_the_document_has() {
        let document = crate::http::openapi::complete(
            &crate::http::api().split_for_parts().1,
            &crate::config::Cli::parse_from(["cromulent-server"]).config.limits,
        );
        assert_eq!(document.pointer("/components/schemas/Id/oneOf/0/pattern"), Some(&json!(ID_PATTERN)));
        assert_eq!(
            document.pointer("/components/schemas/RegisterRequest/properties/password/minLength"),
            Some(&json!(PASSWORD_MIN_CHARS))
        );
    }
}
