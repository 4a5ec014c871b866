//! An `auto` room grows onto the SFU and shrinks back to a mesh while a tone plays on.

use super::*;

/// Every change of the room's mode, with when it happened (looked at every 10 ms).
type Moves = Arc<Mutex<Vec<(std::time::Instant, RoomMode)>>>;

fn watch_moves(server: &TestServer, channel: Id) -> (Moves, tokio::task::JoinHandle<()>) {
    let moves: Moves = Arc::new(Mutex::new(Vec::new()));
    let (state, log) = (server.state.clone(), moves.clone());
    let task = tokio::spawn(async move {
        let mut mode = state.gateway.hub.voice_room_route(channel).1.mode;
        loop {
            sleep(Duration::from_millis(10)).await;
            let now = state.gateway.hub.voice_room_route(channel).1.mode;
            if now != mode {
                log.lock().expect("moves").push((std::time::Instant::now(), now));
                mode = now;
            }
        }
    });
    (moves, task)
}

/// Where a recording falls silent for at least `longest`, and for how long.
fn silences(samples: &[f32], longest: Duration) -> Vec<(Duration, Duration)> {
    let window = (RATE / 100) as usize;
    let quiet: Vec<bool> = samples.chunks(window).map(|c| analysis::rms_dbfs(c) < SILENCE_DBFS).collect();
    let mut found = Vec::new();
    let mut run_start = None;
    for (i, is_quiet) in quiet.iter().chain([&false]).enumerate() {
        match (*is_quiet, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(from)) => {
                let length = Duration::from_millis(10 * (i - from) as u64);
                if length >= longest {
                    found.push((Duration::from_millis(10 * from as u64), length));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_room_moves_to_the_sfu_and_back_while_the_tone_plays_on() {
    // Held across the re-run too: the clients run in the child, beside this process's
    // other real-time tests otherwise.
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    if !inside(module_path!(), "an_auto_room_moves_to_the_sfu_and_back_while_the_tone_plays_on") {
        return;
    }
    let bin = tokio::task::spawn_blocking(release_binary).await.expect("build");
    let server = TestServer::start_with(Database::Sqlite, |c: &mut Config| {
        c.voice.voice_mode = VoiceModeSetting::Auto;
        c.voice.voice_sfu_above = 4;
    })
    .await;
    let channel = voice_channel(&server).await;
    let dir = TempDir::new();
    let tone = wav(dir.path(), "tone.wav", &analysis::sine(SPEAKER_HZ, RATE, 120.0, 0.3));
    let silence = wav(dir.path(), "silence.wav", &vec![0.0; RATE as usize]);

    let speaker = Account::login(&bin, &server, "sam").await;
    let listener = Account::login(&bin, &server, "lee").await;
    let mut extra_accounts = Vec::new();
    for i in 0..4 {
        extra_accounts.push(Account::login(&bin, &server, &format!("x{i}")).await);
    }
    let (moves, watching) = watch_moves(&server, channel);
    let speaking = speaker.join(&tone, &dir.path().join("sam.wav"), "always");
    let listening = listener.join(&silence, &dir.path().join("heard.wav"), "never");
    all_connected(&[&speaking, &listening], 1).await;
    assert_eq!(server.state.gateway.hub.voice_room_route(channel).1.mode, RoomMode::Mesh, "two make a mesh");
    sleep(Duration::from_secs(2)).await;

    // 2 → 6: the fifth participant moves the room to the SFU.
    let mut extras = Vec::new();
    for (i, account) in extra_accounts.iter().enumerate() {
        extras.push(account.join(&silence, &dir.path().join(format!("x{i}.wav")), "never"));
        room_size(&server, channel, 3 + i).await;
        sleep(Duration::from_millis(700)).await;
    }
    room_mode(&server, channel, RoomMode::Sfu).await;
    let everyone: Vec<&Voice> = [&speaking, &listening].into_iter().chain(extras.iter()).collect();
    all_connected(&everyone, 5).await;
    let forwarded = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total");
    sleep(Duration::from_secs(3)).await;
    let through_sfu = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total") - forwarded;
    assert!(
        through_sfu > 500,
        "in the SFU the speaker reaches five listeners through it ({through_sfu} packets in 3 s)"
    );

    // 6 → 2: down to three the room goes back to a mesh.
    let mut left = 0;
    while let Some(extra) = extras.pop() {
        extra.interrupt();
        extra.wait().await;
        left += 1;
        room_size(&server, channel, 6 - left).await;
        sleep(Duration::from_millis(700)).await;
    }
    room_mode(&server, channel, RoomMode::Mesh).await;
    // Past the server's grace for a retired SFU peer (10 s): whatever is heard now comes
    // over the mesh.
    sleep(Duration::from_secs(12)).await;
    assert_eq!(sfu_metric(&server, "cromulent_sfu_participants"), 0, "nobody is left on the SFU");
    let forwarded = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total");
    sleep(Duration::from_secs(2)).await;
    let late = sfu_metric(&server, "cromulent_sfu_packets_forwarded_total") - forwarded;
    assert_eq!(late, 0, "back in a mesh the SFU forwards nothing");
    let recording_start = listening.joined_at().expect("the listener said it joined");
    listening.interrupt();
    let heard = read(&listening.wait().await);
    speaking.interrupt();
    speaking.wait().await;

    watching.abort();
    let moves = moves.lock().expect("moves").clone();
    let modes: Vec<RoomMode> = moves.iter().map(|(_, mode)| *mode).collect();
    assert_eq!(modes, [RoomMode::Sfu, RoomMode::Mesh], "the room moved to the SFU and back, once each");
    let (to_sfu, to_mesh) = (moves[0].0, moves[1].0);
    let onset = analysis::onset(&heard, RATE, SILENCE_DBFS).expect("the listener heard the speaker");
    let start = (onset.as_secs_f64() * f64::from(RATE)) as usize;
    let found = analysis::dominant_frequency(&heard[start..], RATE, 100.0, 4000.0);
    assert!((found - SPEAKER_HZ).abs() < 5.0, "the listener hears the speaker's tone, found {found:.1} Hz");
    let gap_around = |moved: std::time::Instant| {
        let at = moved.duration_since(recording_start).as_secs_f64();
        let from = ((at - 1.0).max(0.0) * f64::from(RATE)) as usize;
        let to = (((at + 6.0) * f64::from(RATE)) as usize).min(heard.len());
        analysis::longest_gap(&heard[from.max(start)..to], RATE, SILENCE_DBFS)
    };
    let (up, down) = (gap_around(to_sfu), gap_around(to_mesh));
    let overall = analysis::longest_gap(&heard[start..], RATE, SILENCE_DBFS);
    let at = |moved: std::time::Instant| moved.duration_since(recording_start);
    eprintln!(
        "longest silence: moving to the SFU (at {:?}) {up:?}, back to the mesh (at {:?}) {down:?}, \
         whole call {overall:?}; silences over 30 ms at {:?}",
        at(to_sfu),
        at(to_mesh),
        silences(&heard, Duration::from_millis(30))
    );
    let limit = Duration::from_millis(300);
    assert!(up < limit, "the move to the SFU leaves no gap: {up:?}");
    assert!(down < limit, "the move back to the mesh leaves no gap: {down:?}");
    assert!(overall < limit, "the tone plays on through the whole call: longest silence {overall:?}");
    let last = heard.len().saturating_sub(3 * RATE as usize).max(start);
    let at_the_end = analysis::tone_purity(&heard[last..], RATE, SPEAKER_HZ);
    assert!(
        at_the_end > 0.5,
        "with only the mesh left the tone still dominates what is heard ({at_the_end:.2})"
    );
}
