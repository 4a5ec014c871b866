//! TODO-placeholder: filled by the groups work.
