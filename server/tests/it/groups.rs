//! Placeholder, filled by the groups work.
