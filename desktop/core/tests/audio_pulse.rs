//! The cpal backends on a real sound server: this test starts its own PulseAudio in user
//! mode with a null sink (private runtime and home directories), plays a tone through the
//! cpal output, records it back through the cpal input from the sink's monitor and checks
//! its frequency; then switches speakers mid-stream and unplugs one. It lives in its own test binary because it points `XDG_RUNTIME_DIR` and
//! `HOME` at the private server for the whole process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cromulent_client::voice::audio::codec::{Playout, VoiceDecoder};
use cromulent_client::voice::audio::{
    analysis, list_devices, AudioConfig, Capture, InputChoice, OutputChoice, PeerSink, Playback,
    FRAME_SAMPLES,
};

/// A private PulseAudio daemon with null sinks: `v` the default sink (`v.monitor` the
/// default source), `w` and `x` two more "speakers" that ALSA lists as the PCMs
/// `sink_w` and `sink_x` (see [`ASOUNDRC`]). Each sink's monitor is recorded to a raw
/// file. Stopped and its directories removed on drop.
struct PulseServer {
    root: PathBuf,
    runtime: PathBuf,
    recorders: Vec<Child>,
    /// Sink name → the module index that unloads it ("unplugs" the speaker).
    modules: Vec<(String, String)>,
}

/// The extra sinks as ALSA devices, with a hint so device lists (cpal's too) show them.
const ASOUNDRC: &str = r#"
pcm.sink_w { type pulse; device "w"; hint { show on; description "Null sink w" } }
pcm.sink_x { type pulse; device "x"; hint { show on; description "Null sink x" } }
"#;

/// The tests of this binary share the process environment: one server at a time.
static ONE_SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl PulseServer {
    fn start(name: &str) -> Self {
        let root = std::env::temp_dir().join(format!("cromulent-pulse-{name}-{}", std::process::id()));
        let runtime = root.join("run");
        let home = root.join("home");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::create_dir_all(&home).expect("home dir");
        std::fs::write(home.join(".asoundrc"), ASOUNDRC).expect("ALSA config");
        set_private(&runtime);
        // Everything in this process (cpal's ALSA pulse plugin included) and every tool
        // below talks to this server only.
        std::env::set_var("XDG_RUNTIME_DIR", &runtime);
        std::env::set_var("HOME", &home);
        std::env::remove_var("PULSE_SERVER");
        let mut server = PulseServer { root, runtime, recorders: Vec::new(), modules: Vec::new() };
        let log = format!("--log-target=file:{}", server.runtime.join("pulse.log").display());
        run(Command::new("pulseaudio").args([
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "--system=false",
            "--disallow-exit",
            log.as_str(),
        ]));
        let deadline = Instant::now() + Duration::from_secs(15);
        while !quiet(Command::new("pactl").arg("info")) {
            assert!(Instant::now() < deadline, "PulseAudio did not come up: {}", server.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        for sink in ["v", "w", "x"] {
            let module = output(Command::new("pactl").args([
                "load-module",
                "module-null-sink",
                &format!("sink_name={sink}"),
                "rate=48000",
            ]));
            server.modules.push((sink.to_owned(), module.trim().to_owned()));
            // Without a low-latency reader a null sink runs in 2 s blocks and capture
            // starts seconds late; the reader doubles as the test's ear on the sink.
            let recording = std::fs::File::create(server.recording(sink)).expect("recording file");
            let recorder = Command::new("parec")
                .args(["-d", &format!("{sink}.monitor"), "--latency-msec=10", "--raw"])
                .args(["--format=s16le", "--rate=48000", "--channels=1"])
                .stdout(Stdio::from(recording))
                .stderr(Stdio::null())
                .spawn()
                .expect("parec starts");
            server.recorders.push(recorder);
        }
        run(Command::new("pactl").args(["set-default-sink", "v"]));
        run(Command::new("pactl").args(["set-default-source", "v.monitor"]));
        std::thread::sleep(Duration::from_millis(1500));
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.runtime.join("pulse.log")).unwrap_or_default()
    }

    fn recording(&self, sink: &str) -> PathBuf {
        self.root.join(format!("{sink}.raw"))
    }

    /// What the sink's monitor heard so far, as samples.
    fn heard(&self, sink: &str) -> Vec<f32> {
        let bytes = std::fs::read(self.recording(sink)).expect("recording readable");
        bytes
            .chunks_exact(2)
            .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32_768.0)
            .collect()
    }

    /// Removes a sink, as unplugging a headset removes its device.
    fn unplug(&self, sink: &str) {
        let (_, module) = self.modules.iter().find(|(name, _)| name == sink).expect("a sink of this server");
        run(Command::new("pactl").args(["unload-module", module]));
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        for mut recorder in self.recorders.drain(..) {
            let _ = recorder.kill();
            let _ = recorder.wait();
        }
        // Kills the daemon of this runtime directory only.
        let _ = Command::new("pulseaudio").arg("--kill").status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn set_private(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
}

fn run(command: &mut Command) {
    let status = command.stdout(Stdio::null()).status().expect("PulseAudio tool runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

fn output(command: &mut Command) -> String {
    let out = command.stderr(Stdio::inherit()).output().expect("PulseAudio tool runs");
    assert!(out.status.success(), "{command:?} failed: {}", out.status);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn quiet(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

/// A 440 Hz tone file of `seconds` in the server's scratch directory.
fn tone_file(server: &PulseServer, seconds: f64) -> PathBuf {
    let dir = server.root.join("files");
    std::fs::create_dir_all(&dir).expect("files dir");
    let tone = dir.join("tone.wav");
    analysis::write_wav(&tone, 48_000, &analysis::sine(440.0, 48_000, seconds, 0.5)).expect("tone file");
    tone
}

/// Sends `tone` as a peer would, a WAV "microphone" encoded to Opus, into `sink`; the
/// returned thread ends once the capture is stopped.
fn send_tone(tone: &Path, sink: PeerSink) -> (Capture, std::thread::JoinHandle<()>) {
    let config = AudioConfig { input: InputChoice::Wav(tone.to_owned()), ..plain() };
    let (sender, mut sent) = Capture::start(&config).expect("tone capture starts");
    sender.set_transmit(true);
    let forward = std::thread::spawn(move || {
        let mut index: u32 = 0;
        while let Some(frame) = sent.blocking_recv() {
            sink.push(index as u16, index * FRAME_SAMPLES as u32, &frame.payload);
            index += 1;
        }
    });
    (sender, forward)
}

/// The tone as sent: no processing that could change it.
fn plain() -> AudioConfig {
    AudioConfig {
        noise_suppression: false,
        echo_cancellation: false,
        gain_control: false,
        high_pass: false,
        ..AudioConfig::default()
    }
}

#[test]
fn a_tone_played_through_cpal_is_recorded_back_through_cpal() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let server = PulseServer::start("tone");
    let tone = tone_file(&server, 4.0);

    let devices = list_devices().expect("the sound server lists devices");
    assert!(!devices.outputs.is_empty(), "ALSA offers output devices: {devices:?}");
    assert!(!devices.inputs.is_empty(), "ALSA offers input devices: {devices:?}");
    let default_output = devices
        .outputs
        .iter()
        .find(|device| device.is_default)
        .unwrap_or_else(|| panic!("one output is marked default: {devices:?}"));
    // Not the default: the PulseAudio plugin device, picked by its id.
    let pulse_input = devices
        .inputs
        .iter()
        .find(|device| !device.is_default && device.id.ends_with(":pulse"))
        .unwrap_or_else(|| panic!("ALSA lists its pulse device: {devices:?}"));

    // Speaker: a name that does not exist falls back to the default device
    // (ALSA -> PulseAudio -> null sink).
    let speaker =
        AudioConfig { output: OutputChoice::Device("no such speaker".to_owned()), ..AudioConfig::default() };
    let playback = Playback::start(&speaker).expect("cpal opens the default output");
    assert_eq!(playback.output_device(), default_output.id, "an unknown speaker falls back to the default");
    let (sender, forward) = send_tone(&tone, playback.add_peer("tone"));

    // Microphone: chosen by the id the device list shows; through the pulse plugin it
    // records the default source, the null sink's monitor.
    let microphone = AudioConfig {
        input: InputChoice::Device(pulse_input.id.clone()),
        noise_suppression: false,
        ..AudioConfig::default()
    };
    let (recorder, mut recorded) = Capture::start(&microphone).expect("cpal opens the pulse input");
    assert_eq!(recorder.input_device(), pulse_input.id, "the device chosen by id is the one opened");
    recorder.set_transmit(true);
    let mut decoder = VoiceDecoder::new().expect("decoder");
    let mut heard = Vec::new();
    let mut frame = [0.0_f32; FRAME_SAMPLES];
    // 2.5 s of recording, bounded in wall time in case the device stalls.
    let deadline = Instant::now() + Duration::from_secs(20);
    while heard.len() < 125 * FRAME_SAMPLES && Instant::now() < deadline {
        let encoded = recorded.blocking_recv().expect("the input keeps delivering frames");
        decoder.decode(&Playout::Packet(encoded.payload.to_vec()), &mut frame);
        heard.extend_from_slice(&frame);
    }
    let level = recorder.level_dbfs();
    let stats = playback.peer_stats("tone").expect("the tone peer exists");
    recorder.stop().expect("recorder stops cleanly");
    sender.stop().expect("sender stops cleanly");
    forward.join().expect("forwarder ends when the sender stops");
    playback.finish().expect("cpal output closes cleanly");

    assert!(heard.len() >= 125 * FRAME_SAMPLES, "the cpal input delivered 2.5 s within 20 s");
    let last_second = &heard[heard.len() - 48_000..];
    let rms = analysis::rms_dbfs(last_second);
    assert!(rms > -30.0, "the tone must be loud in the monitor recording, {rms} dBFS (meter {level})");
    let frequency = analysis::dominant_frequency(last_second, 48_000, 100.0, 4000.0);
    assert!(
        (frequency - 440.0).abs() <= 3.0,
        "the recorded tone must be 440 Hz, found {frequency}; playback {stats:?}"
    );
    drop(server);
}

/// 100 ms windows of `samples` louder than -30 dBFS.
fn loud_windows(samples: &[f32]) -> usize {
    samples.chunks(4_800).filter(|window| analysis::rms_dbfs(window) > -30.0).count()
}

#[test]
fn the_speaker_switches_mid_stream_and_an_unplugged_one_falls_back_to_the_default() {
    let _one = ONE_SERVER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // The device layer's warnings (a stalled or failed stream, a fallback) explain a failure.
    let _ = tracing_subscriber::fmt().with_test_writer().with_max_level(tracing::Level::INFO).try_init();
    let server = PulseServer::start("switch");
    let tone = tone_file(&server, 8.0);
    let devices = list_devices().expect("the sound server lists devices");
    let speaker = |name: &str| {
        devices
            .outputs
            .iter()
            .find(|device| device.id.ends_with(&format!(":{name}")))
            .unwrap_or_else(|| panic!("ALSA lists {name} from the user's config: {devices:?}"))
            .id
            .clone()
    };
    let (speaker_w, speaker_x) = (speaker("sink_w"), speaker("sink_x"));

    let playback =
        Playback::start(&AudioConfig { output: OutputChoice::Device(speaker_w.clone()), ..plain() })
            .expect("cpal opens sink_w");
    assert_eq!(playback.output_device(), speaker_w);
    let (sender, forward) = send_tone(&tone, playback.add_peer("tone"));

    std::thread::sleep(Duration::from_millis(2000));
    let on_w_before_switch = server.heard("w").len();
    playback.switch_output(OutputChoice::Device(speaker_x.clone()));
    std::thread::sleep(Duration::from_millis(2000));
    assert_eq!(playback.output_device(), speaker_x, "the speaker in use is the new one");
    assert_eq!(playback.switch_error(), None);
    let on_v_before_unplug = server.heard("v").len();
    server.unplug("x");
    std::thread::sleep(Duration::from_millis(2500));
    sender.stop().expect("sender stops cleanly");
    forward.join().expect("forwarder ends when the sender stops");
    playback.finish().expect("cpal output closes cleanly");

    let (w, x, v) = (server.heard("w"), server.heard("x"), server.heard("v"));
    let pulse_log = server.log();
    assert!(loud_windows(&w[..on_w_before_switch]) >= 5, "the tone played on sink_w first: {pulse_log}");
    let w_after = &w[(on_w_before_switch + 24_000).min(w.len())..];
    assert_eq!(loud_windows(w_after), 0, "after the switch sink_w is silent");
    assert!(loud_windows(&x) >= 5, "the tone went on on sink_x after the switch");
    assert_eq!(
        loud_windows(&v[..on_v_before_unplug]),
        0,
        "the default speaker was silent while another played"
    );
    assert!(
        loud_windows(&v[on_v_before_unplug..]) >= 5,
        "with sink_x unplugged the tone goes on on the default speaker: {pulse_log}"
    );
    drop(server);
}
