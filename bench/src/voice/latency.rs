//! The delay the SFU adds: one str0m peer talks to another directly (a mesh's media
//! path) and through the SFU of a server in sfu mode, in alternating rounds of the same
//! run, and each frame's send→receive time is taken on the one clock of this process.

use std::time::Duration;

use clap::Args;
use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, EventFrame, ServerFrame};
use cromulent_protocol::Id;
use cromulent_testkit::sfu_peer::{SfuPeer, Signaling};
use tokio::sync::mpsc;

use crate::report::{print_reproduce, print_table, thousands};
use crate::server::{DbKind, Launch, Server, ServerArgs};
use crate::stats::{ms, Samples};
use crate::voice::room::{self, load_average};

#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    /// Rounds; each talks `secs` directly, then `secs` through the SFU.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    #[arg(long, default_value_t = 10)]
    pub secs: u64,
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Signaling between two peers of this process, as the gateway relays it in a mesh:
/// what one sends to the other arrives as an event from it.
struct DirectLink {
    me: Id,
    to_other: mpsc::UnboundedSender<ServerFrame>,
    from_other: mpsc::UnboundedReceiver<ServerFrame>,
    seq: u64,
}

fn direct_pair(a: Id, b: Id) -> (DirectLink, DirectLink) {
    let (to_b, from_a) = mpsc::unbounded_channel();
    let (to_a, from_b) = mpsc::unbounded_channel();
    (
        DirectLink { me: a, to_other: to_b, from_other: from_b, seq: 0 },
        DirectLink { me: b, to_other: to_a, from_other: from_a, seq: 0 },
    )
}

impl Signaling for DirectLink {
    async fn send(&mut self, frame: ClientFrame) {
        let (from, from_user_id) = (self.me, self.me);
        let event = match frame {
            ClientFrame::SdpOffer { sdp, .. } => Event::SdpOffer { from, from_user_id, sdp },
            ClientFrame::SdpAnswer { sdp, .. } => Event::SdpAnswer { from, from_user_id, sdp },
            ClientFrame::IceCandidate { candidate, .. } => {
                Event::IceCandidate { from, from_user_id, candidate }
            }
            _ => return,
        };
        self.seq += 1;
        let _ = self.to_other.send(ServerFrame::Event(EventFrame { seq: self.seq, event }));
    }

    async fn next(&mut self, within: Duration) -> Option<ServerFrame> {
        tokio::time::timeout(within, self.from_other.recv()).await.ok().flatten()
    }
}

/// A talker and a listener on one path, and the delays the listener has seen.
struct Path {
    label: &'static str,
    talker: SfuPeer,
    listener: SfuPeer,
    delays: Samples,
}

impl Path {
    /// Talks for `secs`; the first second (connection set-up, ramp) is not counted.
    async fn talk(&mut self, secs: u64) -> anyhow::Result<()> {
        self.talker.speak(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while self.listener.frames_from(self.talker.session_id) == 0 {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "{}: no frame arrives", self.label);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.listener.clear_delays();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        self.talker.speak(false);
        for us in self.listener.heard().delays_us {
            self.delays.record_micros(u64::from(us));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    }

    fn row(&mut self) -> Vec<String> {
        let count = self.delays.len();
        let p = |s: &mut Samples, q| s.percentile(q).map_or("-".into(), ms);
        vec![
            self.label.into(),
            thousands(count as f64),
            p(&mut self.delays, 50.0),
            p(&mut self.delays, 90.0),
            p(&mut self.delays, 99.0),
            p(&mut self.delays, 100.0),
        ]
    }
}

pub async fn run(args: LatencyArgs) -> anyhow::Result<()> {
    let load_before = load_average();
    let (a, b) = direct_pair(Id(1), Id(2));
    let mut direct = Path {
        label: "direct, peer to peer (mesh)",
        talker: SfuPeer::connect(a, Id(1), Id(2)).await?,
        listener: SfuPeer::answer(b, Id(2), Id(1)).await?,
        delays: Samples::new(),
    };

    let launch = Launch { db: DbKind::Sqlite, env: vec![("VOICE_MODE".into(), "sfu".into())] };
    let server = Server::start(&args.server, &launch).await?;
    let accounts = room::accounts(&server, "latency", 2).await?;
    let channel = room::voice_room(&accounts[0]).await?;
    let mut peers = room::join(room::links(&server, &accounts).await?, channel).await?;
    let listener = peers.pop().expect("two joined");
    let talker = peers.pop().expect("two joined");
    let mut sfu = Path { label: "through the SFU", talker, listener, delays: Samples::new() };

    for round in 0..args.rounds {
        direct.talk(args.secs).await?;
        sfu.talk(args.secs).await?;
        eprintln!("round {} of {}", round + 1, args.rounds);
    }
    let rows = vec![direct.row(), sfu.row(), added(&mut direct.delays, &mut sfu.delays)];
    print_table(&["path", "frames", "p50 ms", "p90 ms", "p99 ms", "max ms"], &rows);
    println!("\nLoad average (1 min) before: {load_before}, after: {}", load_average());
    print_reproduce("voice-bench");
    Ok(())
}

/// SFU minus direct, percentile by percentile.
fn added(direct: &mut Samples, sfu: &mut Samples) -> Vec<String> {
    let mut cells = vec!["**added by the SFU**".to_owned(), String::new()];
    for q in [50.0, 90.0, 99.0, 100.0] {
        let cell = match (sfu.percentile(q), direct.percentile(q)) {
            (Some(s), Some(d)) => format!("{:+.2}", (s.as_secs_f64() - d.as_secs_f64()) * 1000.0),
            _ => "-".into(),
        };
        cells.push(cell);
    }
    cells
}
