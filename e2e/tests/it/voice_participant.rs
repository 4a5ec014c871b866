//! One user in `voice-main` for the end-to-end voice tests: a real gateway connection
//! (REST login, gateway session) feeding an in-process voice engine, as the desktop app
//! wires them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cromulent_client::api::{Client, TokenSource};
use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
use cromulent_client::tokens::Secret;
use cromulent_client::voice::{EngineConfig, VoiceEngine};
use cromulent_e2e::TestServer;
use cromulent_protocol::gateway::{Event, ServerFrame};
use cromulent_protocol::Id;
use tokio::time::{sleep, Instant};

/// Rewrites the frames the gateway delivers before the engine sees them: the test
/// transport's hook for steering ICE through a relay.
pub type Rewrite = Arc<dyn Fn(ServerFrame) -> Option<ServerFrame> + Send + Sync>;

/// One user in the room: a real gateway connection feeding a voice engine.
pub struct Participant {
    pub engine: VoiceEngine,
    pub gateway: Gateway,
    /// Every frame the gateway delivered, for checks on what reached this user.
    pub seen: Arc<Mutex<Vec<ServerFrame>>>,
    pub voice_channel: Id,
}

impl Participant {
    pub async fn join(
        server: &TestServer,
        name: &str,
        config: EngineConfig,
        rewrite: Option<Rewrite>,
    ) -> Self {
        let user = server.user(name).await;
        let refresh = server.refresh_token(&user).await;
        let client = Client::new(&server.base).expect("client");
        let tokens = TokenSource::new(&client, Secret::new(refresh), None);
        let client = client.with_tokens(tokens.clone());
        let voice_channel = client
            .channels()
            .await
            .expect("channels")
            .into_iter()
            .find(|c| c.channel.name == "voice-main")
            .expect("the seeded voice channel")
            .channel
            .id;
        let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await.expect("gateway");
        let mut events = gateway.subscribe();
        let (frames_tx, mut frames_rx) = tokio::sync::mpsc::unbounded_channel();
        let sender = gateway.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                let _ = sender.send(frame).await;
            }
        });
        let engine = VoiceEngine::new(
            config,
            Arc::new(move |frame| {
                let _ = frames_tx.send(frame);
            }),
        );
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (feed, log) = (engine.clone(), seen.clone());
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                let GatewayEvent::Frame(frame) = event else { continue };
                log.lock().expect("log").push(frame.clone());
                let frame = match &rewrite {
                    Some(rewrite) => rewrite(frame),
                    None => Some(frame),
                };
                if let Some(frame) = frame {
                    feed.handle(&frame);
                }
            }
        });
        engine.join(voice_channel).await.expect("join voice");
        Participant { engine, gateway, seen, voice_channel }
    }

    pub fn session_id(&self) -> Id {
        self.gateway.session_id()
    }

    /// `ptt_state` events about `session` that reached this user's gateway.
    pub fn ptt_states_of(&self, session: Id) -> Vec<bool> {
        self.seen
            .lock()
            .expect("log")
            .iter()
            .filter_map(|f| match f {
                ServerFrame::Event(e) => match &e.event {
                    Event::PttState { session_id, active, .. } if *session_id == session => Some(*active),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }
}

/// Waits (liveness deadline only) until both engines see each other connected.
pub async fn connected(a: &Participant, b: &Participant) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let up = |p: &Participant, other: Id| {
            p.engine
                .snapshot()
                .peers
                .iter()
                .any(|peer| peer.session_id == other && peer.connection == "connected")
        };
        if up(a, b.session_id()) && up(b, a.session_id()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "peers did not connect: {:?} / {:?}",
            a.engine.snapshot(),
            b.engine.snapshot()
        );
        sleep(Duration::from_millis(50)).await;
    }
}
