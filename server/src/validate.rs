//! Rules for what users type: addresses, names, passwords, free text.

use cromulent_protocol::limits::*;

/// A field that breaks a rule; `field` names it for the client's form. Not retryable
/// with the same input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

/// Lower-cased and trimmed; one `@`, a dotted domain, no spaces.
pub fn email(raw: &str) -> Result<String, Invalid> {
    let email = raw.trim().to_lowercase();
    let bad = || Invalid::new("email", "enter an email address like name@example.com");
    if email.chars().count() > EMAIL_MAX_CHARS || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(email)
}

/// Characters a username (and so an `@mention`) may hold.
pub fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-' || c == '.'
}

pub fn username(raw: &str) -> Result<String, Invalid> {
    let name = raw.trim();
    let count = name.chars().count();
    if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&count) {
        return Err(Invalid::new(
            "username",
            format!("a username has {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters"),
        ));
    }
    if !name.chars().all(is_name_char) || name.ends_with('.') {
        return Err(Invalid::new("username", "use letters, digits, '_', '-' and '.' only"));
    }
    if matches!(name.to_lowercase().as_str(), "here" | "everyone") {
        return Err(Invalid::new("username", "that name is reserved for mentions"));
    }
    Ok(name.to_owned())
}

/// Length is the only rule: any characters, no composition requirements.
pub fn password(raw: &str, field: &str) -> Result<(), Invalid> {
    let count = raw.chars().count();
    if count < PASSWORD_MIN_CHARS {
        return Err(Invalid::new(field, format!("use at least {PASSWORD_MIN_CHARS} characters")));
    }
    if count > PASSWORD_MAX_CHARS {
        return Err(Invalid::new(field, format!("use at most {PASSWORD_MAX_CHARS} characters")));
    }
    Ok(())
}

/// Trimmed optional text; empty becomes `None`.
pub fn optional_text(raw: Option<&str>, field: &str, max_chars: usize) -> Result<Option<String>, Invalid> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if text.chars().count() > max_chars {
        return Err(Invalid::new(field, format!("at most {max_chars} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(Invalid::new(field, "control characters are not allowed"));
    }
    Ok(Some(text.to_owned()))
}

pub fn required_text(raw: &str, field: &str, max_chars: usize) -> Result<String, Invalid> {
    optional_text(Some(raw), field, max_chars)?.ok_or_else(|| Invalid::new(field, "must not be empty"))
}

/// Only http(s) URLs, so a stored avatar can never be a `javascript:` link.
pub fn avatar_url(raw: Option<&str>) -> Result<Option<String>, Invalid> {
    let url = optional_text(raw, "avatar_url", AVATAR_URL_MAX_CHARS)?;
    if let Some(url) = &url {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://"))
            || url.contains(char::is_whitespace)
        {
            return Err(Invalid::new("avatar_url", "use an http:// or https:// address"));
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_nonsense_refused() {
        assert_eq!(email("  Alice@Example.COM ").expect("valid"), "alice@example.com");
        for bad in ["", "alice", "a@b", "a@@b.c", "a b@c.d", "@b.c", "a@b.c."] {
            assert!(email(bad).is_err(), "{bad:?} is not an address");
        }
    }

    #[test]
    fn passwords_are_judged_by_length_alone_in_characters() {
        assert!(password("aaaaaaaaaaaa", "password").is_ok(), "twelve plain letters suffice");
        assert!(password("ünïcödé-pässwörd", "password").is_ok(), "unicode is welcome");
        assert!(password("ääääääääääa", "password").is_err(), "11 characters is too short even at 22 bytes");
    }

    #[test]
    fn usernames_can_be_mentioned() {
        assert_eq!(username(" zoë_99 ").expect("valid"), "zoë_99");
        for bad in ["a", "has space", "at@sign", "everyone", "Here", "trailing."] {
            assert!(username(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn avatars_must_be_web_addresses() {
        assert!(avatar_url(Some("https://x.example/a.png")).is_ok());
        assert!(avatar_url(Some("javascript:alert(1)")).is_err());
        assert_eq!(avatar_url(Some("  ")).expect("empty clears"), None);
    }
}
