//! Placeholder, filled by the notifications work.
