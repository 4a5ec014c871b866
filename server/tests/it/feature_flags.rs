//! Placeholder, filled by the feature_flags work.
