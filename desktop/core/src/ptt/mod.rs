//! Push-to-talk key sources.
