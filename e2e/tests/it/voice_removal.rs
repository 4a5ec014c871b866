//! The native voice engine hangs up when the server takes it out of its room: bob is in
//! a private voice room with ann (peer connections up), ann removes him from the channel
//! over REST, and bob's engine ends its call by itself (no peers, no pipelines, no room)
//! and reports why, while ann stays. Deleting the channel then ends ann's call the same
//! way. No audio needs to flow: the removal and the local teardown are what is tested.

use std::sync::Arc;
use std::time::Duration;

use cromulent_client::api::{Client, TokenSource};
use cromulent_client::gateway::{Gateway, GatewayConfig, GatewayEvent};
use cromulent_client::tokens::Secret;
use cromulent_client::voice::audio::{AudioConfig, InputChoice, OutputChoice};
use cromulent_client::voice::mesh::MeshConfig;
use cromulent_client::voice::{EngineConfig, PttMode, Removal, VoiceEngine};
use cromulent_e2e::{private_voice_channel, Database, TestServer, TestUser};
use cromulent_protocol::Id;
use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};

const WAIT: Duration = Duration::from_secs(20);

/// One user: a REST client, a gateway feeding a voice engine, and the removals the
/// engine reported while handling the gateway's frames.
struct Caller {
    client: Client,
    gateway: Gateway,
    engine: VoiceEngine,
    removals: mpsc::UnboundedReceiver<Removal>,
}

impl Caller {
    async fn connect(server: &TestServer, user: &TestUser) -> Self {
        let refresh = server.refresh_token(user).await;
        let anonymous = Client::new(&server.base).expect("client");
        let tokens = TokenSource::new(&anonymous, Secret::new(refresh), None);
        let client = anonymous.with_tokens(tokens.clone());
        let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await.expect("gateway");
        let (frames_tx, mut frames_rx) = mpsc::unbounded_channel();
        let sender = gateway.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                let _ = sender.send(frame).await;
            }
        });
        let config = EngineConfig {
            audio: AudioConfig {
                input: InputChoice::Silence,
                output: OutputChoice::Null,
                noise_suppression: false,
                ..AudioConfig::default()
            },
            mesh: MeshConfig::loopback(),
            mode: PttMode::Never,
        };
        let engine = VoiceEngine::new(
            config,
            Arc::new(move |frame| {
                let _ = frames_tx.send(frame);
            }),
        );
        let (removed_tx, removals) = mpsc::unbounded_channel();
        let (feed, mut events) = (engine.clone(), gateway.subscribe());
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let GatewayEvent::Frame(frame) = event {
                    if let Some(removal) = feed.handle(&frame) {
                        let _ = removed_tx.send(removal);
                    }
                }
            }
        });
        Caller { client, gateway, engine, removals }
    }

    async fn access_token(&self) -> String {
        let tokens = self.client.tokens().expect("a logged-in client");
        tokens.access_token().await.expect("access token").expose().to_string()
    }

    /// Sends an authenticated REST request and expects success.
    async fn rest(&self, method: reqwest::Method, path: &str) {
        let response = reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", self.client.server().as_str().trim_end_matches('/')))
            .bearer_auth(self.access_token().await)
            .send()
            .await
            .expect("REST request");
        assert!(response.status().is_success(), "{method} {path}: {}", response.status());
    }

    /// The removal the engine reported, within the liveness deadline.
    async fn removal(&mut self) -> Removal {
        timeout(WAIT, self.removals.recv())
            .await
            .expect("the engine reports the removal in time")
            .expect("the engine's feed is still running")
    }

    fn connected_to(&self, peer: Id) -> bool {
        self.engine.snapshot().peers.iter().any(|p| p.session_id == peer && p.connection == "connected")
    }
}

/// Waits (liveness deadline only) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_removed_from_a_private_voice_room_hangs_up_and_says_why() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    let server = TestServer::start(Database::Sqlite).await;
    let ann_user = server.user("ann").await; // the first user: admin
    let bob_user = server.user("bob").await;
    let mut ann = Caller::connect(&server, &ann_user).await;
    let mut bob = Caller::connect(&server, &bob_user).await;

    let staff = private_voice_channel(&ann.client, "staff-voice").await;
    ann.rest(reqwest::Method::PUT, &format!("/api/channels/{staff}/members/{}", bob_user.id)).await;

    ann.engine.join(staff).await.expect("ann joins");
    bob.engine.join(staff).await.expect("bob joins");
    let (ann_session, bob_session) = (ann.gateway.session_id(), bob.gateway.session_id());
    until("ann and bob are connected", || ann.connected_to(bob_session) && bob.connected_to(ann_session))
        .await;

    ann.rest(reqwest::Method::DELETE, &format!("/api/channels/{staff}/members/{}", bob_user.id)).await;
    let removal = bob.removal().await;
    assert_eq!(
        removal,
        Removal::Removed { channel_id: staff },
        "the server took bob's own session out of the room it is in"
    );
    assert!(
        removal.to_string().contains("you no longer have access"),
        "the reason a UI or the CLI shows says why: {removal}"
    );
    let state = bob.engine.snapshot();
    assert_eq!(state.channel_id, None, "bob's call ended without his asking");
    assert!(state.peers.is_empty(), "bob's peer connections are closed: {:?}", state.peers);
    assert!(!state.transmitting, "bob's microphone is not going out");
    assert_eq!(state.self_session_id, None, "bob has no place in a room any more");
    assert_eq!(state.removed, Some(removal), "the state keeps the reason for a UI that reads it later");
    bob.engine.leave().expect("leaving after a removal is harmless");

    until("ann no longer has bob as a peer", || {
        !ann.engine.snapshot().peers.iter().any(|p| p.session_id == bob_session)
    })
    .await;
    assert_eq!(ann.engine.channel_id(), Some(staff), "ann, still a member, stays in the room");
    assert!(ann.removals.try_recv().is_err(), "bob's removal is no removal of ann");

    // Deleting the channel ends ann's call too; whether its `channel_delete` or her own
    // `left` arrives first, the engine hangs up on the first and reports that one.
    ann.rest(reqwest::Method::DELETE, &format!("/api/channels/{staff}")).await;
    let removal = ann.removal().await;
    assert!(
        matches!(removal, Removal::ChannelGone { .. } | Removal::Removed { .. }),
        "the deleted room's call ended: {removal:?}"
    );
    assert_eq!(removal.channel_id(), staff, "the removal names the deleted channel");
    assert_eq!(ann.engine.channel_id(), None, "ann's call ended with the channel");
    assert!(ann.engine.snapshot().peers.is_empty(), "ann has no peer connections left");
    assert!(
        timeout(Duration::from_millis(300), ann.removals.recv()).await.is_err(),
        "the second of the two events finds no call to end: one removal, reported once"
    );
}
