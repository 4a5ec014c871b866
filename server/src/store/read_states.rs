//! TODO-placeholder: filled by the read_states work.
