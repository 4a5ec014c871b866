//! Starts the push-to-talk source this desktop allows (see
//! `cromulent_client::ptt::choose`) and feeds it to [`crate::voice`]. Settings show the
//! backend and the reason; the UI's in-window key handling works on top of it.

use std::sync::{Arc, Mutex};

use cromulent_client::ptt::{self, Backend, Choice, Environment, PttEvent, PttKey, PttSink, PttSource};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// What settings show about push-to-talk.
#[derive(Debug, Clone, Serialize)]
pub struct PttStatus {
    pub backend: Backend,
    pub reason: String,
    pub key: PttKey,
    /// Set when the chosen backend could not start; the in-window key still works.
    pub error: Option<String>,
    /// The `cromulent ptt down|up` socket also listens (Linux and macOS).
    pub command_socket: Option<String>,
}

#[derive(Default)]
pub struct PttState {
    status: Mutex<Option<PttStatus>>,
    sources: Mutex<Vec<Box<dyn PttSource>>>,
}

impl PttState {
    pub fn status(&self) -> Option<PttStatus> {
        self.status.lock().expect("ptt status lock is never poisoned").clone()
    }

    /// Tells every running source about a new key.
    pub fn set_key(&self, key: &PttKey) {
        for source in self.sources.lock().expect("ptt sources lock is never poisoned").iter() {
            source.set_key(key.clone());
        }
        if let Some(s) = self.status.lock().expect("ptt status lock is never poisoned").as_mut() {
            s.key = key.clone();
        }
    }

    /// Asks a source that sees keys (the global listener or evdev; the command socket
    /// sees none) to take the next key pressed; false when none can, and the window
    /// captures in-window instead.
    pub fn capture_next(&self) -> bool {
        let sources = self.sources.lock().expect("ptt sources lock is never poisoned");
        sources.iter().any(|s| s.capture_next())
    }
}

pub fn start<R: Runtime>(app: &AppHandle<R>) {
    app.manage(PttState::default());
    let config = app.state::<crate::account::AppState>().config();
    let key = config.ptt_key.map(PttKey::new).unwrap_or_default();
    let choice = ptt::choose(&Environment::detect(config.evdev_opt_in));
    tracing::info!(backend = ?choice.backend, reason = %choice.reason, %key, "push-to-talk");
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let status = launch(&app, choice, key).await;
        crate::tray::show_ptt(&app, &status);
        let _ = app.emit("ptt://status", &status);
        *app.state::<PttState>().status.lock().expect("ptt status lock is never poisoned") = Some(status);
    });
}

async fn launch<R: Runtime>(app: &AppHandle<R>, choice: Choice, key: PttKey) -> PttStatus {
    let sink = sink(app);
    let state = app.state::<PttState>();
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

fn sink<R: Runtime>(app: &AppHandle<R>) -> PttSink {
    let app = app.clone();
    Arc::new(move |event| match event {
        // Several sources may report the same press; the voice state ignores repeats.
        PttEvent::Down => {
            crate::voice::ptt(&app, true);
        }
        PttEvent::Up => {
            crate::voice::ptt(&app, false);
        }
        PttEvent::Captured(key) => {
            let state = app.state::<crate::account::AppState>();
            if let Err(e) = state.update_config(|c| c.ptt_key = Some(key.as_str().to_owned())) {
                tracing::warn!(error = %e, "push-to-talk key not saved");
            }
            let state = app.state::<PttState>();
            state.set_key(&key);
            if let Some(status) = state.status() {
                crate::tray::show_ptt(&app, &status);
            }
            let _ = app.emit("ptt://captured", &key);
        }
    })
}
