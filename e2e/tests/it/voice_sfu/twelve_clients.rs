//! Twelve release-built `cromulent voice join` processes in one SFU room: everyone
//! hears everyone else, and the client on push-to-talk only while its key is held.

use super::*;

/// The last audio level (dBov) the SFU read from each participant's packets.
fn sfu_audio_levels(server: &TestServer) -> Vec<f64> {
    let metrics = server.state.gateway.hub.sfu().render_metrics();
    metrics
        .lines()
        .filter(|l| l.starts_with("cromulent_sfu_participant_audio_level_dbov{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// Each 100 ms chunk's share of energy at `frequency` (0 for silent chunks).
fn shares(samples: &[f32], frequency: f64) -> Vec<f64> {
    samples.chunks_exact(CHUNK).map(|chunk| analysis::tone_purity(chunk, RATE, frequency)).collect()
}

/// The tone of client `i` of twelve: 350 Hz to 1450 Hz in steps of 100, so that every
/// tone has a Goertzel bin of its own in a 100 ms chunk.
fn tone_of(i: usize) -> f64 {
    350.0 + 100.0 * i as f64
}

/// A tone counts as heard in a chunk when it carries this share of the chunk's energy;
/// eleven equal tones carry about 0.09 each, a missing one next to nothing.
const HEARD_SHARE: f64 = 0.02;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_release_clients_in_an_sfu_room_hear_everyone_else_and_not_a_released_key() {
    // Held across the re-run too: the clients run in the child, beside this process's
    // other real-time tests otherwise.
    let _one_at_a_time = cromulent_e2e::one_real_time_test().await;
    if !inside(
        module_path!(),
        "twelve_release_clients_in_an_sfu_room_hear_everyone_else_and_not_a_released_key",
    ) {
        return;
    }
    let bin = tokio::task::spawn_blocking(release_binary).await.expect("build");
    let server =
        TestServer::start_with(Database::Sqlite, |c: &mut Config| c.voice.voice_mode = VoiceModeSetting::Sfu)
            .await;
    let channel = voice_channel(&server).await;
    let dir = TempDir::new();
    const CLIENTS: usize = 12;
    /// The last client talks only while its key is held.
    const KEYED: usize = CLIENTS - 1;

    let mut accounts = Vec::new();
    for i in 0..CLIENTS {
        accounts.push(Account::login(&bin, &server, &format!("u{i:02}")).await);
    }
    let mut voices = Vec::new();
    for (i, account) in accounts.iter().enumerate() {
        // Eleven tones at once must not clip in the mix: 0.05 peak each.
        let input = wav(dir.path(), &format!("in-{i}.wav"), &analysis::sine(tone_of(i), RATE, 120.0, 0.05));
        let output = dir.path().join(format!("out-{i}.wav"));
        let ptt = if i == KEYED { "key" } else { "always" };
        voices.push(account.join(&input, &output, ptt));
    }
    room_size(&server, channel, CLIENTS).await;
    assert_eq!(server.state.gateway.hub.voice_room_route(channel).1.mode, RoomMode::Sfu);
    all_connected(&voices.iter().collect::<Vec<_>>(), CLIENTS - 1).await;

    // Connected, the key released: its tone must not reach anyone for these 3 s.
    sleep(Duration::from_secs(3)).await;
    voices[KEYED].toggle_talking();
    sleep(Duration::from_secs(5)).await;
    voices[KEYED].toggle_talking();
    sleep(Duration::from_secs(3)).await;
    // A 0.05 tone is about -29 dBFS: each always-on client tells the SFU so in RFC 6464.
    let levels = sfu_audio_levels(&server);
    let told = levels.iter().filter(|l| (-35.0..=-23.0).contains(*l)).count();
    assert!(told >= CLIENTS - 1, "every always-on client's packets carry its audio level: {levels:?}");
    for voice in &voices {
        voice.interrupt();
    }
    let mut recordings = Vec::new();
    for voice in voices {
        recordings.push(read(&voice.wait().await));
    }

    let mut heard = 0;
    let mut missing = Vec::new();
    for (listener, samples) in recordings.iter().enumerate() {
        // The room fell silent when the others left; a client that took a second SIGINT
        // to leave recorded on a little longer, so the call's end is read from the sound.
        let end = samples
            .chunks_exact(CHUNK)
            .rposition(|chunk| analysis::rms_dbfs(chunk) >= SILENCE_DBFS)
            .map_or(0, |last| last + 1);
        assert!(end >= 110, "client {listener} heard the room for at least 11 s ({end} chunks)");
        for speaker in (0..CLIENTS).filter(|s| *s != listener) {
            let present: Vec<bool> =
                shares(samples, tone_of(speaker)).iter().take(end).map(|s| *s > HEARD_SHARE).collect();
            let ok = if speaker == KEYED {
                keyed_heard_only_while_held(&present, listener)
            } else {
                // The last 8 s before leaving: everyone always-on is heard throughout.
                let tail = &present[end - 85..end - 5];
                tail.iter().filter(|p| **p).count() * 10 >= tail.len() * 9
            };
            if ok {
                heard += 1;
            } else {
                // Where it was heard, second by second (tenths of each second), for the report.
                let seconds: String = present
                    .chunks(10)
                    .map(|s| char::from_digit(s.iter().filter(|p| **p).count() as u32, 11).unwrap_or('?'))
                    .collect();
                missing.push(format!("{listener} hears {speaker}: {seconds}"));
            }
        }
    }
    assert_eq!(
        heard,
        CLIENTS * (CLIENTS - 1),
        "every client hears every other one; missing:\n{}",
        missing.join("\n")
    );
}

/// The keyed client was held for 5 s between 3 s of release before and after (`present`
/// ends when the call did): its tone is heard for most of those 5 s and at no other time.
fn keyed_heard_only_while_held(present: &[bool], listener: usize) -> bool {
    let chunks: Vec<usize> = present.iter().enumerate().filter(|(_, p)| **p).map(|(i, _)| i).collect();
    let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
        eprintln!("listener {listener}: the keyed client was never heard");
        return false;
    };
    let span = last - first + 1;
    let tail = present.len() - last;
    let ok = chunks.len() >= 35 && span <= 60 && tail >= 20 && *first >= 20;
    if !ok {
        eprintln!(
            "listener {listener}: keyed tone in {} chunks over a span of {span} from chunk {first}, {tail} before the end",
            chunks.len()
        );
    }
    ok
}
