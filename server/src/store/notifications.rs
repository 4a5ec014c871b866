//! TODO-placeholder: filled by the notifications work.
