//! Starts the push-to-talk source this desktop allows (see
//! `cromulent_client::ptt::choose`) and feeds it to the voice state. Settings show the
//! backend and the reason; the tray follows the status ([`PttState::subscribe`]); the
//! UI's in-window key handling works on top of it.

use std::sync::{Arc, Mutex};

use cromulent_client::account::Accounts;
use cromulent_client::ptt::{self, Backend, Choice, Environment, PttEvent, PttKey, PttSink, PttSource};
use tauri::{AppHandle, Runtime};
use tokio::sync::watch;

use crate::bridge::{PttStatus, PTT_CAPTURED, PTT_STATUS};
use crate::voice::VoiceLink;

pub struct PttState {
    /// `None` until the backend has started (or failed to).
    status: watch::Sender<Option<PttStatus>>,
    sources: Mutex<Vec<Box<dyn PttSource>>>,
}

impl Default for PttState {
    fn default() -> Self {
        Self { status: watch::Sender::new(None), sources: Mutex::default() }
    }
}

impl PttState {
    pub fn status(&self) -> Option<PttStatus> {
        self.status.borrow().clone()
    }

    /// Follows the status (the tray names the backend and key).
    pub fn subscribe(&self) -> watch::Receiver<Option<PttStatus>> {
        self.status.subscribe()
    }

    /// Tells every running source about a new key.
    pub fn set_key(&self, key: &PttKey) {
        for source in self.sources.lock().expect("ptt sources lock is never poisoned").iter() {
            source.set_key(key.clone());
        }
        self.status.send_modify(|s| {
            if let Some(s) = s.as_mut() {
                s.key = key.clone();
            }
        });
    }

    /// Asks a source that sees keys (the global listener or evdev; the command socket
    /// sees none) to take the next key pressed; false when none can, and the window
    /// captures in-window instead.
    pub fn capture_next(&self) -> bool {
        let sources = self.sources.lock().expect("ptt sources lock is never poisoned");
        sources.iter().any(|s| s.capture_next())
    }
}

/// What the sources feed: the voice state, and the config for a captured key.
#[derive(Clone)]
pub struct PttWiring {
    pub state: Arc<PttState>,
    pub voice: Arc<VoiceLink>,
    pub accounts: Arc<Accounts>,
}

pub fn start<R: Runtime>(app: &AppHandle<R>, wiring: PttWiring) {
    let config = wiring.accounts.config();
    let key = config.ptt_key.map(PttKey::new).unwrap_or_default();
    let choice = ptt::choose(&Environment::detect(config.evdev_opt_in));
    tracing::info!(backend = ?choice.backend, reason = %choice.reason, %key, "push-to-talk");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let status = launch(&app, &wiring, choice, key).await;
        PTT_STATUS.emit(&app, &status);
        wiring.state.status.send_replace(Some(status));
    });
}

async fn launch<R: Runtime>(
    app: &AppHandle<R>,
    wiring: &PttWiring,
    choice: Choice,
    key: PttKey,
) -> PttStatus {
    let sink = sink(app, wiring);
    let state = &wiring.state;
    let mut status = PttStatus {
        backend: choice.backend,
        reason: choice.reason.clone(),
        key: key.clone(),
        error: None,
        command_socket: None,
    };
    let started = match choice.backend {
        Backend::Global => start_global(app, key.clone(), Arc::clone(&sink)),
        other => ptt::start(&choice, key.clone(), Arc::clone(&sink)).await.map_err(|e| {
            tracing::warn!(backend = ?other, error = %e, "push-to-talk backend did not start");
            e
        }),
    };
    match started {
        Ok(source) => state.sources.lock().expect("ptt sources lock is never poisoned").push(source),
        Err(e) => status.error = Some(e.to_string()),
    }
    // The command socket is cheap and lets users bind a key anywhere, so it listens
    // whatever else was chosen.
    if cfg!(unix) && choice.backend != Backend::Command {
        let path = ptt::command::socket_path();
        match ptt::command::CommandListener::bind(&path, sink).await {
            Ok(listener) => {
                status.command_socket = Some(path.display().to_string());
                state.sources.lock().expect("ptt sources lock is never poisoned").push(Box::new(listener));
            }
            Err(e) => tracing::warn!(error = %e, "no push-to-talk command socket"),
        }
    } else if choice.backend == Backend::Command && status.error.is_none() {
        status.command_socket = Some(ptt::command::socket_path().display().to_string());
    }
    status
}

/// macOS needs rdev's event tap on the main thread; elsewhere it gets its own thread.
fn start_global<R: Runtime>(
    app: &AppHandle<R>,
    key: PttKey,
    sink: PttSink,
) -> Result<Box<dyn PttSource>, ptt::PttError> {
    if cfg!(target_os = "macos") {
        let app = app.clone();
        let spawn: ptt::global::Spawner = Box::new(move |run| {
            let _ = app.run_on_main_thread(run);
        });
        Ok(Box::new(ptt::global::GlobalListener::start_with(key, sink, spawn)?))
    } else {
        Ok(Box::new(ptt::global::GlobalListener::start(key, sink)?))
    }
}

fn sink<R: Runtime>(app: &AppHandle<R>, wiring: &PttWiring) -> PttSink {
    let (app, wiring) = (app.clone(), wiring.clone());
    Arc::new(move |event| match event {
        // Several sources may report the same press; the voice state ignores repeats.
        PttEvent::Down => {
            wiring.voice.ptt(true);
        }
        PttEvent::Up => {
            wiring.voice.ptt(false);
        }
        PttEvent::Captured(key) => {
            if let Err(e) = wiring.accounts.update_config(|c| c.ptt_key = Some(key.as_str().to_owned())) {
                tracing::warn!(error = %e, "push-to-talk key not saved");
            }
            wiring.state.set_key(&key);
            PTT_CAPTURED.emit(&app, &key);
        }
    })
}
