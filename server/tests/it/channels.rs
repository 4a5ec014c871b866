//! Placeholder, filled by the channels work.
