//! Voice engine.

pub mod audio;
