//! `cromulent voice join <channel>` and `cromulent voice devices`: a voice room from the
//! terminal, with real sound devices or WAV files (bots, tests, load generation).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cromulent_protocol::channel::ChannelKind;
use cromulent_protocol::gateway::ClientFrame;
use cromulent_protocol::Id;
use tokio::sync::{broadcast, mpsc};

use super::Context;
use crate::gateway::{ConnectionState, GatewayEvent};
use crate::ptt::{self, PttEvent, PttKey, PttSource};
use crate::voice::audio::{self, AudioConfig, InputChoice, OutputChoice};
use crate::voice::mesh::MeshConfig;
use crate::voice::{EngineConfig, PttMode, VoiceEngine, VoiceState};

/// The exit status of `voice join` when the server ended the call (see [`Removal`]).
///
/// [`Removal`]: crate::voice::Removal
pub const EXIT_REMOVED: u8 = 3;

/// `cromulent voice` arguments.
#[derive(Debug, clap::Args)]
pub struct VoiceArgs {
    #[command(subcommand)]
    pub action: VoiceAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum VoiceAction {
    /// Join a voice channel by name and talk until Ctrl-C (or for --duration seconds).
    /// Exits with status 3 when the server takes you out of the room (access removed,
    /// channel made private or deleted).
    Join(JoinArgs),
    /// List the sound devices --device-in / --device-out accept.
    Devices,
}

#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The voice channel's name (with or without `#`).
    pub channel: String,
    /// Send this WAV file (any rate, mono or stereo) instead of the microphone, once, then
    /// silence.
    #[arg(long, value_name = "FILE.wav")]
    pub input: Option<PathBuf>,
    /// Write what is heard to this WAV file (48 kHz mono) instead of the speakers.
    #[arg(long, value_name = "FILE.wav")]
    pub output: Option<PathBuf>,
    /// Leave after this many seconds and exit 0.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,
    /// When the microphone transmits. `key`: while --ptt-key is held, where the desktop
    /// lets a program see keys (X11, Windows, macOS; on Wayland bind `cromulent ptt
    /// down|up` to a key in the compositor); in the terminal itself, Enter starts
    /// talking and Enter again stops (a terminal reports no key releases). `vad`: while
    /// voice is detected.
    #[arg(long, value_enum, default_value_t = PttArg::Key)]
    pub ptt: PttArg,
    /// The hold-to-talk key for `--ptt key`, named like the web's `KeyboardEvent.code`
    /// (`ControlLeft`, `F8`, `MouseBack`).
    #[arg(long, value_name = "CODE", default_value = crate::ptt::key::DEFAULT_KEY)]
    pub ptt_key: String,
    /// Input device by name (see `cromulent voice devices`); falls back to the default.
    #[arg(long, value_name = "NAME", conflicts_with = "input")]
    pub device_in: Option<String>,
    /// Output device by name; falls back to the default.
    #[arg(long, value_name = "NAME", conflicts_with = "output")]
    pub device_out: Option<String>,
    /// Send the microphone as it is, without RNNoise.
    #[arg(long)]
    pub no_noise_suppression: bool,
    /// Do not cancel the echo of the speakers in the microphone (right for a headset).
    /// With `--output FILE` nothing played reaches a microphone, so the canceller gets
    /// no reference unless `--echo-sim` makes a room.
    #[arg(long)]
    pub no_echo_cancellation: bool,
    /// Do not adapt the microphone's level.
    #[arg(long)]
    pub no_gain_control: bool,
    /// Do not filter out rumble below the voice band.
    #[arg(long)]
    pub no_high_pass: bool,
    /// Tests: feed what is played back into the microphone DELAY_MS later with GAIN_DB
    /// (e.g. `60:-6`), mixed with the input, like speakers heard by the microphone.
    #[arg(long, value_name = "DELAY_MS:GAIN_DB", allow_hyphen_values = true)]
    pub echo_sim: Option<audio::EchoSim>,
    /// Bind the peer connections to loopback only (both ends on this machine).
    #[arg(long, hide = true)]
    pub loopback: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PttArg {
    Always,
    Never,
    Key,
    Vad,
}

impl From<PttArg> for PttMode {
    fn from(arg: PttArg) -> Self {
        match arg {
            PttArg::Always => PttMode::Always,
            PttArg::Never => PttMode::Never,
            PttArg::Key => PttMode::Key,
            PttArg::Vad => PttMode::VoiceActivity,
        }
    }
}

/// Runs `cromulent voice`.
pub async fn run(ctx: &Context, args: VoiceArgs) -> anyhow::Result<()> {
    match args.action {
        VoiceAction::Join(args) => join(ctx, args).await,
        VoiceAction::Devices => devices(),
    }
}

fn devices() -> anyhow::Result<()> {
    let devices = audio::list_devices().context("listing sound devices")?;
    for (title, list) in [("INPUT", &devices.inputs), ("OUTPUT", &devices.outputs)] {
        println!("{title}");
        for device in list {
            let mark = if device.is_default { " (default)" } else { "" };
            println!("  {}{mark}", device.name);
        }
    }
    Ok(())
}

async fn join(ctx: &Context, args: JoinArgs) -> anyhow::Result<()> {
    let client = ctx.client().await?;
    let wanted = args.channel.trim_start_matches('#');
    let channels = client.channels().await.context("listing channels")?;
    let channel = channels
        .iter()
        .find(|c| c.channel.name == wanted && c.channel.kind == ChannelKind::Voice)
        .with_context(|| format!("no voice channel named {wanted:?}"))?
        .channel
        .clone();

    let gateway = ctx.gateway().await?;
    let mut events = gateway.subscribe();
    let names: HashMap<Id, String> =
        gateway.ready().users.iter().map(|u| (u.id, u.username.clone())).collect();
    // The engine signals synchronously; a task hands frames to the gateway in order.
    let (frames_tx, mut frames_rx) = mpsc::unbounded_channel::<ClientFrame>();
    let sender = gateway.clone();
    let pump = tokio::spawn(async move {
        while let Some(frame) = frames_rx.recv().await {
            if let Err(error) = sender.send(frame).await {
                tracing::warn!(%error, "voice frame not sent");
            }
        }
    });

    let config = EngineConfig {
        audio: AudioConfig {
            input: match (&args.input, &args.device_in) {
                (Some(path), _) => InputChoice::Wav(path.clone()),
                (None, Some(name)) => InputChoice::Device(name.clone()),
                (None, None) => InputChoice::Default,
            },
            output: match (&args.output, &args.device_out) {
                (Some(path), _) => OutputChoice::Wav(path.clone()),
                (None, Some(name)) => OutputChoice::Device(name.clone()),
                (None, None) => OutputChoice::Default,
            },
            noise_suppression: !args.no_noise_suppression,
            echo_cancellation: !args.no_echo_cancellation,
            gain_control: !args.no_gain_control,
            high_pass: !args.no_high_pass,
            echo_sim: args.echo_sim,
            ..AudioConfig::default()
        },
        mesh: if args.loopback { MeshConfig::loopback() } else { MeshConfig::default() },
        mode: args.ptt.into(),
    };
    let engine = VoiceEngine::new(
        config,
        Arc::new(move |frame| {
            let _ = frames_tx.send(frame);
        }),
    );
    engine.join(channel.id).await.context("joining voice")?;
    eprintln!("joined #{}{}", channel.name, ptt_hint(args.ptt));
    // Kept alive until we leave: dropping a source stops it.
    let _key_source = match args.ptt {
        PttArg::Key => hold_to_talk(&engine, &args.ptt_key).await,
        _ => None,
    };

    let result = talk(&engine, &mut events, &args, &names).await;
    let left = engine.leave().context("leaving voice");
    // Give the pump a moment to deliver `voice_leave` before the connection closes.
    drop(engine);
    let _ = tokio::time::timeout(Duration::from_secs(2), pump).await;
    gateway.close().await;
    result.and(left)
}

/// Starts the system's push-to-talk key source for this desktop session, if it has one;
/// without it Enter still toggles talking.
async fn hold_to_talk(engine: &VoiceEngine, key: &str) -> Option<Box<dyn PttSource>> {
    let choice = ptt::choose(&ptt::Environment::detect(false));
    let target = engine.clone();
    let sink: ptt::PttSink = Arc::new(move |event| match event {
        PttEvent::Down => target.ptt_down(),
        PttEvent::Up => target.ptt_up(),
        PttEvent::Captured(_) => {}
    });
    match ptt::start(&choice, PttKey::new(key), sink).await {
        Ok(source) => {
            eprintln!("hold {key} to talk ({})", choice.reason);
            Some(source)
        }
        Err(error) => {
            eprintln!("no hold-to-talk key here ({error}); use Enter");
            None
        }
    }
}

fn ptt_hint(ptt: PttArg) -> &'static str {
    match ptt {
        PttArg::Key => " — Enter toggles talking too, Ctrl-C to leave",
        PttArg::Always => " — microphone open, Ctrl-C to leave",
        PttArg::Never => " — listening only, Ctrl-C to leave",
        PttArg::Vad => " — talking while voice is detected, Ctrl-C to leave",
    }
}

/// Feeds gateway frames to the engine until the duration is over, Ctrl-C, the server
/// ends the call (the engine has hung up; the [`crate::voice::Removal`] is the error), or
/// the gateway closes for good; Enter toggles push-to-talk in `key` mode.
async fn talk(
    engine: &VoiceEngine,
    events: &mut broadcast::Receiver<GatewayEvent>,
    args: &JoinArgs,
    names: &HashMap<Id, String>,
) -> anyhow::Result<()> {
    let deadline = args.duration.map(|s| tokio::time::Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut presses = (args.ptt == PttArg::Key).then(key_presses);
    // One listener for the whole call: a Ctrl-C between two turns of the loop still
    // counts (a listener made per turn only sees signals after its own creation).
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    let mut talking = false;
    let mut status = tokio::time::interval(Duration::from_secs(1));
    let mut shown = String::new();
    loop {
        let until_deadline = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let next_press = async {
            match presses.as_mut() {
                Some(presses) => presses.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = until_deadline => return Ok(()),
            _ = &mut interrupted => return Ok(()),
            press = next_press => match press {
                Some(()) => {
                    talking = !talking;
                    if talking { engine.ptt_down() } else { engine.ptt_up() }
                    eprintln!("{}", if talking { "talking…" } else { "stopped talking" });
                }
                // Stdin closed (not a terminal): keep listening, just without a key.
                None => presses = None,
            },
            event = events.recv() => match event {
                Ok(GatewayEvent::Frame(frame)) => {
                    if let Some(removal) = engine.handle(&frame) {
                        return Err(removal.into());
                    }
                }
                Ok(GatewayEvent::State(ConnectionState::Closed(reason))) => {
                    anyhow::bail!("the gateway closed: {reason:?}")
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "gateway events missed");
                }
                Err(broadcast::error::RecvError::Closed) => anyhow::bail!("the gateway closed"),
            },
            _ = status.tick() => {
                let line = describe(&engine.snapshot(), names);
                if line != shown {
                    eprintln!("{line}");
                    shown = line;
                }
            }
        }
        if let Some(error) = engine.snapshot().error {
            anyhow::bail!("voice: {error}");
        }
    }
}

/// Enter presses on stdin. Read on a thread of its own, not the runtime's blocking
/// pool: a read that never returns (a terminal nobody types in) would hold the runtime's
/// shutdown, and so the program's exit, while a plain thread ends with the process.
fn key_presses() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if line.is_err() || tx.send(()).is_err() {
                return;
            }
        }
    });
    rx
}

/// One status line: who is connected and speaking.
fn describe(state: &VoiceState, names: &HashMap<Id, String>) -> String {
    let peers: Vec<String> = state
        .peers
        .iter()
        .map(|p| {
            let speaking = if p.speaking || p.transmitting { " speaking" } else { "" };
            let name = names.get(&p.user_id).cloned().unwrap_or_else(|| p.user_id.to_string());
            format!("{name} {}{speaking}", p.connection)
        })
        .collect();
    let me = if state.transmitting { "you: talking" } else { "you: quiet" };
    if peers.is_empty() {
        format!("{me}; nobody else here")
    } else {
        format!("{me}; peers: {}", peers.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn join_args(extra: &[&str]) -> JoinArgs {
        let cli = Cli::try_parse_from(["cromulent", "voice", "join", "voice-main"].iter().chain(extra))
            .expect("the arguments parse");
        match cli.command {
            Command::Voice(VoiceArgs { action: VoiceAction::Join(args) }) => args,
            other => panic!("parsed as another command: {other:?}"),
        }
    }

    #[test]
    fn acoustic_switches_and_the_echo_simulation_parse() {
        let plain = join_args(&[]);
        assert!(
            !plain.no_echo_cancellation && !plain.no_gain_control && !plain.no_high_pass,
            "every acoustic stage is on unless switched off"
        );
        assert_eq!(plain.echo_sim, None, "no room is simulated unless asked");
        let args = join_args(&[
            "--echo-sim",
            "60:-6",
            "--no-echo-cancellation",
            "--no-gain-control",
            "--no-high-pass",
        ]);
        assert_eq!(
            args.echo_sim,
            Some(audio::EchoSim { delay_ms: 60, gain_db: -6.0 }),
            "a negative gain is a value, not a flag"
        );
        assert!(
            args.no_echo_cancellation && args.no_gain_control && args.no_high_pass,
            "each switch is read"
        );
    }
}
