//! Placeholder, filled by the messages work.
