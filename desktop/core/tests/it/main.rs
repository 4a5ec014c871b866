//! The native client's integration tests, in one binary. `audio_pulse` stays a binary of
//! its own: it points `XDG_RUNTIME_DIR` and `HOME` at a private PulseAudio for its whole
//! process, which tests running beside it in the same process must not see.

mod audio_pipeline;
mod keyring_stores;
mod ptt_portal;
mod voice_sfu_engine;
