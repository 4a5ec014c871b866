//! Voice engine.
