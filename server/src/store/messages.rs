//! TODO-placeholder: filled by the messages work.
