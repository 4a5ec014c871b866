//! The native client's integration tests, in one binary. `audio_pulse` stays a binary of
//! its own: it points `XDG_RUNTIME_DIR` and `HOME` at a private PulseAudio for its whole
//! process, which tests running beside it in the same process must not see.

mod audio_pipeline;
mod audio_settings;
mod keyring_stores;
mod ptt_portal;
mod voice_sfu_engine;

/// The WAV backends run in real time on their own threads; two tests running audio at
/// once on a 2-core machine starve each other's audio threads and hear their own
/// scheduling hiccups as loss. Every test that runs a voice engine or an audio pipeline
/// holds this for its whole run (`blocking_lock` in plain tests, `lock().await` in
/// async ones).
static REAL_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A temporary directory of one test, removed at its end.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("cromulent-it-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir is writable");
        Scratch(dir)
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
