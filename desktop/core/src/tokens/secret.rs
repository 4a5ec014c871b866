//! A value that must never reach a log, a panic message or a debugger's pretty-printer.

use std::fmt;

use zeroize::Zeroize;

/// Wraps a secret so `Debug` and `Display` print `[redacted]` and the memory is wiped
/// when the value is dropped.
///
/// Reading the value takes an explicit [`Sensitive::expose`], which makes every place
/// that handles the plain text easy to find. Copies made after `expose` (a request body,
/// a gateway frame) are not wiped; keep them short-lived.
#[derive(Clone)]
pub struct Sensitive<T: Zeroize>(T);

/// A token or password.
pub type Secret = Sensitive<String>;

impl<T: Zeroize> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The plain value. Never log it or put it in an error.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Sensitive(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Sensitive(value.to_owned())
    }
}

impl<T: Zeroize + PartialEq> PartialEq for Sensitive<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T: Zeroize + Eq> Eq for Sensitive<T> {}

impl<T: Zeroize> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: Zeroize> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T: Zeroize> Drop for Sensitive<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_debug_nor_display_shows_the_value() {
        let secret = Secret::from("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]", "Debug must hide the token");
        assert_eq!(format!("{secret}"), "[redacted]", "Display must hide the token");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])", "nesting must not leak it");
        assert_eq!(secret.expose(), "hunter2", "expose is the one way to read it");
    }
}
