//! The gateway connection the UI runs on. The core's [`Gateway`] connects, resumes and
//! reconnects; this module forwards every frame to the UI as a `gateway://frame` event,
//! connection changes as `gateway://status`, `gateway://resync` and
//! `gateway://signed_out`, and sends the UI's frames (voice ops through [`crate::voice`]).

use std::sync::Mutex;

use cromulent_client::gateway::{
    CloseReason, ConnectionState, Gateway, GatewayConfig, GatewayError, GatewayEvent,
};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::{broadcast, mpsc};

use crate::account::Session;

pub struct Link {
    /// One queue for every frame, so a press and its release are never reordered.
    outbox: mpsc::UnboundedSender<ClientFrame>,
    gateway: std::sync::Arc<Mutex<Option<Gateway>>>,
    forwarder: Mutex<Option<JoinHandle<()>>>,
}

impl Link {
    pub fn new() -> Self {
        let (outbox, mut queued) = mpsc::unbounded_channel::<ClientFrame>();
        let gateway: std::sync::Arc<Mutex<Option<Gateway>>> = Default::default();
        let current = std::sync::Arc::clone(&gateway);
        tauri::async_runtime::spawn(async move {
            while let Some(frame) = queued.recv().await {
                let gw = current.lock().expect("gateway lock is never poisoned").clone();
                // Without a connection there is no session for the frame to belong to.
                if let Some(gw) = gw {
                    if let Err(e) = gw.send(frame).await {
                        tracing::debug!(error = %e, "frame not sent");
                    }
                }
            }
        });
        Self { outbox, gateway, forwarder: Mutex::new(None) }
    }

    /// Sends a frame as is, in order with everything else sent.
    pub fn send_raw(&self, frame: ClientFrame) {
        let _ = self.outbox.send(frame);
    }

    /// Opens a fresh connection for `session`, replacing any previous one.
    pub async fn connect<R: Runtime>(
        &self,
        app: &AppHandle<R>,
        session: &Session,
    ) -> Result<(), GatewayError> {
        self.close().await;
        let gateway =
            Gateway::connect(GatewayConfig::new(session.client.server(), session.tokens().clone())).await?;
        let events = gateway.subscribe();
        // `connect` consumed the ready frame; the UI builds its state from one.
        let ready = ServerFrame::Control(ControlFrame::Ready {
            session_id: gateway.session_id(),
            snapshot: Box::new(gateway.ready().clone()),
        });
        *self.gateway.lock().expect("gateway lock is never poisoned") = Some(gateway);
        emit_status(app, "ready");
        deliver(app, &ready);
        let handle = tauri::async_runtime::spawn(forward(app.clone(), events));
        *self.forwarder.lock().expect("forwarder lock is never poisoned") = Some(handle);
        Ok(())
    }

    pub async fn close(&self) {
        if let Some(task) = self.forwarder.lock().expect("forwarder lock is never poisoned").take() {
            task.abort();
        }
        let gw = self.gateway.lock().expect("gateway lock is never poisoned").take();
        if let Some(gw) = gw {
            gw.close().await;
        }
    }
}

impl Default for Link {
    fn default() -> Self {
        Self::new()
    }
}

/// A frame from the UI: voice ops change the app's voice state, the rest go out as is.
pub fn send_from_ui<R: Runtime>(app: &AppHandle<R>, link: &Link, frame: ClientFrame) {
    if let Some(frame) = crate::voice::from_ui(app, frame) {
        link.send_raw(frame);
    }
}

async fn forward<R: Runtime>(app: AppHandle<R>, mut events: broadcast::Receiver<GatewayEvent>) {
    loop {
        match events.recv().await {
            Ok(GatewayEvent::Frame(frame)) => deliver(&app, &frame),
            Ok(GatewayEvent::State(state)) => match state {
                ConnectionState::Connected { .. } | ConnectionState::Resumed { .. } => {
                    emit_status(&app, "ready")
                }
                ConnectionState::Reconnecting { .. } => emit_status(&app, "reconnecting"),
                ConnectionState::InvalidSession => {
                    let _ = app.emit("gateway://resync", ());
                }
                ConnectionState::Closed(reason) => {
                    emit_status(&app, "closed");
                    if matches!(reason, CloseReason::Revoked | CloseReason::AuthenticationFailed(_)) {
                        let _ = app.emit("gateway://signed_out", ());
                    }
                    return;
                }
            },
            Ok(GatewayEvent::Undelivered(frames)) => {
                tracing::debug!(count = frames.len(), "frames lost with the old gateway session");
            }
            // Missed events: the UI refetches over REST, as after an invalid session.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let _ = app.emit("gateway://resync", ());
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn deliver<R: Runtime>(app: &AppHandle<R>, frame: &ServerFrame) {
    crate::voice::observe(app, frame);
    if let ServerFrame::Event(ev) = frame {
        if let Event::NotificationCreate { notification } = &ev.event {
            crate::desktop::notify_mention(app, notification);
        }
    }
    let _ = app.emit("gateway://frame", frame);
}

fn emit_status<R: Runtime>(app: &AppHandle<R>, status: &str) {
    let _ = app.emit("gateway://status", status);
}
