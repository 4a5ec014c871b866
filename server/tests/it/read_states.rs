//! Placeholder, filled by the read_states work.
