//! Token storage.
