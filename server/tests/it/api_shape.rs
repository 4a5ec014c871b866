//! Placeholder, filled by the api_shape work.
