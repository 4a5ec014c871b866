//! Placeholder: mention parsing, filled in by the messages work.
