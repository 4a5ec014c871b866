//! Placeholder, filled by the users work.
