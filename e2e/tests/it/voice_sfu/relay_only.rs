//! Relay-only voice reaches the SFU through the built-in TURN relay.

use super::*;

/// One user in the room: a real gateway connection feeding a voice engine, with what
/// the engine sent.
struct Engine {
    engine: VoiceEngine,
    gateway: Gateway,
    sent: Arc<Mutex<Vec<ClientFrame>>>,
    channel: Id,
}

impl Engine {
    async fn join(server: &TestServer, name: &str, config: EngineConfig) -> Self {
        let user = server.user(name).await;
        let refresh = server.refresh_token(&user).await;
        let client = Client::new(&server.base).expect("client");
        let tokens = TokenSource::new(&client, Secret::new(refresh), None);
        let client = client.with_tokens(tokens.clone());
        let channel = client.channels().await.expect("channels");
        let channel =
            channel.into_iter().find(|c| c.channel.name == "voice-main").expect("voice-main").channel.id;
        let gateway = Gateway::connect(GatewayConfig::new(client.server(), tokens)).await.expect("gateway");
        let mut events = gateway.subscribe();
        let (frames_tx, mut frames_rx) = tokio::sync::mpsc::unbounded_channel();
        let sender = gateway.clone();
        tokio::spawn(async move {
            while let Some(frame) = frames_rx.recv().await {
                let _ = sender.send(frame).await;
            }
        });
        let sent = Arc::new(Mutex::new(Vec::new()));
        let log = sent.clone();
        let engine = VoiceEngine::new(
            config,
            Arc::new(move |frame: ClientFrame| {
                log.lock().expect("sent").push(frame.clone());
                let _ = frames_tx.send(frame);
            }),
        );
        let feed = engine.clone();
        tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let GatewayEvent::Frame(frame) = event {
                    feed.handle(&frame);
                }
            }
        });
        engine.join(channel).await.expect("join voice");
        Engine { engine, gateway, sent, channel }
    }
}

fn engine_config(input: InputChoice, output: OutputChoice, mode: PttMode) -> EngineConfig {
    EngineConfig {
        audio: AudioConfig { input, output, noise_suppression: false, ..AudioConfig::default() },
        mesh: MeshConfig::loopback(),
        mode,
    }
}

/// Forces relay-only voice for everyone, as the admin (the first user) may.
async fn force_relay(server: &TestServer) {
    let admin = server.user("root").await;
    let client = cromulent_e2e::client_for(server, &admin).await;
    let token = client.tokens().expect("logged in").access_token().await.expect("token");
    let resp = reqwest::Client::new()
        .patch(format!("{}/api/admin/voice/settings", server.base))
        .bearer_auth(token.expose())
        .json(&serde_json::json!({"force_relay": true}))
        .send()
        .await
        .expect("settings");
    assert!(resp.status().is_success(), "force relay: {}", resp.status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn relay_only_voice_reaches_the_sfu_through_turn_and_carries_the_tone() {
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    // No loopback exemption for TURN: the relay must reach the server's own SFU as it is.
    let server =
        TestServer::start_with(Database::Sqlite, |c: &mut Config| c.voice.voice_mode = VoiceModeSetting::Sfu)
            .await;
    force_relay(&server).await;
    let dir = TempDir::new();
    let tone = wav(dir.path(), "tone.wav", &analysis::sine(SPEAKER_HZ, RATE, 30.0, 0.5));
    let heard = dir.path().join("heard.wav");
    let ann = Engine::join(
        &server,
        "ann",
        engine_config(InputChoice::Wav(tone), OutputChoice::Null, PttMode::Always),
    )
    .await;
    let bob = Engine::join(
        &server,
        "bob",
        engine_config(InputChoice::Silence, OutputChoice::Wav(heard.clone()), PttMode::Never),
    )
    .await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let state = bob.engine.snapshot();
        let from_ann = state.peers.iter().find(|p| p.session_id == ann.gateway.session_id());
        if from_ann.is_some_and(|p| p.connection == "connected" && p.packets_received > 100) {
            break;
        }
        assert!(Instant::now() < deadline, "ann's audio never reached bob through the SFU: {state:?}");
        sleep(Duration::from_millis(100)).await;
    }
    let (_, route) = server.state.gateway.hub.voice_room_route(bob.channel);
    assert_eq!(route.mode, RoomMode::Sfu, "the server keeps the room in its SFU");
    bob.engine.leave().expect("bob leaves, output finalized");
    ann.engine.leave().expect("ann leaves");
    for (name, engine) in [("ann", &ann), ("bob", &bob)] {
        let sent = engine.sent.lock().expect("sent");
        let offers = sent.iter().filter(|f| matches!(f, ClientFrame::SdpOffer { .. })).count();
        let candidates: Vec<String> = sent
            .iter()
            .filter_map(|f| match f {
                ClientFrame::IceCandidate { candidate, .. } => {
                    candidate.get("candidate").and_then(|c| c.as_str()).map(str::to_owned)
                }
                _ => None,
            })
            .collect();
        assert!(offers >= 1, "{name} offered to the SFU");
        assert!(
            !candidates.is_empty() && candidates.iter().all(|c| c.contains(" typ relay")),
            "{name} gives the SFU relay candidates only: {candidates:?}"
        );
    }
    let samples = read(&heard);
    let onset = analysis::onset(&samples, RATE, SILENCE_DBFS).expect("bob heard ann");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let found = analysis::dominant_frequency(&samples[start..], RATE, 100.0, 4000.0);
    assert!((found - SPEAKER_HZ).abs() < 5.0, "440 Hz through TURN and the SFU, found {found:.1} Hz");
}
