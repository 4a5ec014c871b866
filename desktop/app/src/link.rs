//! The gateway connection the UI runs on. The core's [`Gateway`] connects, resumes and
//! reconnects; this module forwards every frame to the UI ([`GATEWAY_FRAME`]), connection
//! changes as [`GATEWAY_STATUS`], [`GATEWAY_RESYNC`] and [`GATEWAY_SIGNED_OUT`], and sends
//! the UI's frames (voice ops through [`VoiceLink`]).

use std::sync::{Arc, Mutex};

use cromulent_client::account::Session;
use cromulent_client::gateway::{
    CloseReason, ConnectionState, Gateway, GatewayConfig, GatewayError, GatewayEvent,
};
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use tauri::async_runtime::JoinHandle;
use tauri::{AppHandle, Runtime};
use tokio::sync::{broadcast, mpsc};

use crate::bridge::{LinkStatus, GATEWAY_FRAME, GATEWAY_RESYNC, GATEWAY_SIGNED_OUT, GATEWAY_STATUS};
use crate::desktop::Unread;
use crate::voice::VoiceLink;

pub struct Link {
    /// One queue for every frame, the UI's and the voice engine's, so a press and its
    /// release are never reordered.
    outbox: mpsc::UnboundedSender<ClientFrame>,
    gateway: Arc<Mutex<Option<Gateway>>>,
    forwarder: Mutex<Option<JoinHandle<()>>>,
    /// What the frames are delivered to besides the UI.
    voice: Arc<VoiceLink>,
    unread: Arc<Unread>,
}

impl Link {
    /// The link and its voice state, which sends on the link's queue.
    pub fn new(unread: Arc<Unread>) -> (Self, Arc<VoiceLink>) {
        let (outbox, mut queued) = mpsc::unbounded_channel::<ClientFrame>();
        let gateway: Arc<Mutex<Option<Gateway>>> = Default::default();
        let current = Arc::clone(&gateway);
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
        let voice = VoiceLink::new(outbox.clone());
        let link = Self { outbox, gateway, forwarder: Mutex::new(None), voice: Arc::clone(&voice), unread };
        (link, voice)
    }

    /// A frame from the UI: voice ops change the app's voice state, the rest go out as is.
    pub fn send_from_ui(&self, frame: ClientFrame) {
        if let Some(frame) = self.voice.from_ui(frame) {
            let _ = self.outbox.send(frame);
        }
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
        let delivery =
            Delivery { app: app.clone(), voice: Arc::clone(&self.voice), unread: Arc::clone(&self.unread) };
        GATEWAY_STATUS.emit(app, &LinkStatus::Ready);
        delivery.deliver(&ready);
        let handle = tauri::async_runtime::spawn(delivery.forward(events));
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

/// Where each received frame goes: the voice state, mention notifications, the UI.
struct Delivery<R: Runtime> {
    app: AppHandle<R>,
    voice: Arc<VoiceLink>,
    unread: Arc<Unread>,
}

impl<R: Runtime> Delivery<R> {
    async fn forward(self, mut events: broadcast::Receiver<GatewayEvent>) {
        let app = &self.app;
        loop {
            match events.recv().await {
                Ok(GatewayEvent::Frame(frame)) => self.deliver(&frame),
                Ok(GatewayEvent::State(state)) => match state {
                    ConnectionState::Connected { .. } | ConnectionState::Resumed { .. } => {
                        GATEWAY_STATUS.emit(app, &LinkStatus::Ready)
                    }
                    ConnectionState::Reconnecting { .. } => {
                        GATEWAY_STATUS.emit(app, &LinkStatus::Reconnecting)
                    }
                    ConnectionState::InvalidSession => GATEWAY_RESYNC.emit(app, &()),
                    ConnectionState::Closed(reason) => {
                        GATEWAY_STATUS.emit(app, &LinkStatus::Closed);
                        if matches!(reason, CloseReason::Revoked | CloseReason::AuthenticationFailed(_)) {
                            GATEWAY_SIGNED_OUT.emit(app, &());
                        }
                        return;
                    }
                },
                Ok(GatewayEvent::Undelivered(frames)) => {
                    tracing::debug!(count = frames.len(), "frames lost with the old gateway session");
                }
                // Missed events: the UI refetches over REST, as after an invalid session.
                Err(broadcast::error::RecvError::Lagged(_)) => GATEWAY_RESYNC.emit(app, &()),
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    fn deliver(&self, frame: &ServerFrame) {
        self.voice.observe(frame);
        if let ServerFrame::Event(ev) = frame {
            if let Event::NotificationCreate { notification } = &ev.event {
                crate::desktop::notify_mention(&self.app, &self.unread, notification);
            }
        }
        GATEWAY_FRAME.emit(&self.app, frame);
    }
}
