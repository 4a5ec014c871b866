//! The cpal backends on a real sound server: this test starts its own PulseAudio in user
//! mode with a null sink (private runtime and home directories), plays a tone through the
//! cpal output, records it back through the cpal input from the sink's monitor and checks
//! its frequency. It lives in its own test binary because it points `XDG_RUNTIME_DIR` and
//! `HOME` at the private server for the whole process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cromulent_client::voice::audio::codec::{Playout, VoiceDecoder};
use cromulent_client::voice::audio::{
    analysis, list_devices, AudioConfig, Capture, InputChoice, OutputChoice, Playback, FRAME_SAMPLES,
};

/// A private PulseAudio daemon with a null sink `v` as default sink and `v.monitor` as
/// default source; stopped and its directories removed on drop.
struct PulseServer {
    root: PathBuf,
    runtime: PathBuf,
    keep_alive: Option<Child>,
}

impl PulseServer {
    fn start() -> Self {
        let root = std::env::temp_dir().join(format!("cromulent-pulse-{}", std::process::id()));
        let runtime = root.join("run");
        let home = root.join("home");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        std::fs::create_dir_all(&home).expect("home dir");
        set_private(&runtime);
        // Everything in this process (cpal's ALSA pulse plugin included) and every tool
        // below talks to this server only.
        std::env::set_var("XDG_RUNTIME_DIR", &runtime);
        std::env::set_var("HOME", &home);
        std::env::remove_var("PULSE_SERVER");
        let mut server = PulseServer { root, runtime, keep_alive: None };
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
        run(Command::new("pactl").args(["load-module", "module-null-sink", "sink_name=v", "rate=48000"]));
        run(Command::new("pactl").args(["set-default-sink", "v"]));
        run(Command::new("pactl").args(["set-default-source", "v.monitor"]));
        // Without a low-latency reader the null sink runs in 2 s blocks and capture starts
        // seconds late.
        let keep_alive = Command::new("parec")
            .args(["-d", "v.monitor", "--latency-msec=10", "--raw"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("parec starts");
        server.keep_alive = Some(keep_alive);
        std::thread::sleep(Duration::from_millis(1500));
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.runtime.join("pulse.log")).unwrap_or_default()
    }
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        if let Some(mut keep_alive) = self.keep_alive.take() {
            let _ = keep_alive.kill();
            let _ = keep_alive.wait();
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

fn quiet(command: &mut Command) -> bool {
    command.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|status| status.success())
}

#[test]
fn a_tone_played_through_cpal_is_recorded_back_through_cpal() {
    let server = PulseServer::start();
    let dir = server.root.join("files");
    std::fs::create_dir_all(&dir).expect("files dir");
    let tone = dir.join("tone.wav");
    analysis::write_wav(&tone, 48_000, &analysis::sine(440.0, 48_000, 4.0, 0.5)).expect("tone file");

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
    let sink = playback.add_peer("tone");
    // The tone arrives as a peer would send it: a WAV "microphone" encoded to Opus.
    let sender_config = AudioConfig {
        input: InputChoice::Wav(tone.clone()),
        noise_suppression: false,
        ..AudioConfig::default()
    };
    let (sender, mut sent) = Capture::start(&sender_config).expect("tone capture starts");
    sender.set_transmit(true);
    let forward = std::thread::spawn(move || {
        let mut index: u32 = 0;
        while let Some(frame) = sent.blocking_recv() {
            sink.push(index as u16, index * FRAME_SAMPLES as u32, &frame.payload);
            index += 1;
        }
    });

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
