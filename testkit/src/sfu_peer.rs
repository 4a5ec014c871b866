//! A voice participant made of a str0m peer connection on its own loopback UDP socket,
//! for the SFU's tests and the voice load generator: it signals through a gateway
//! connection (anything [`Signaling`]), sends 20 ms frames while it "speaks", and counts
//! what it receives per stream id (the sender's session id).
//!
//! A frame carries no audio: its first byte is the sender's [`tag_of`], the next eight
//! its send time on this process's clock, so a listener can check that a frame came on
//! its sender's stream and how long it took. Frames are [`FRAME_BYTES`] long, the size
//! Opus fills in 20 ms at the native client's 32 kbit/s.
//!
//! Two peers can also talk directly ([`SfuPeer::answer`] on the far end), which is what
//! a mesh's media path is; the load generator compares the SFU with that.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::voice::RoomMode;
use cromulent_protocol::{ErrorCode, Id};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// One frame's worth of audio.
pub const FRAME: Duration = Duration::from_millis(20);
/// Payload of every frame: Opus at 32 kbit/s fills 80 bytes in 20 ms.
pub const FRAME_BYTES: usize = 80;
/// How long [`SfuPeer::join`] waits for the server to answer `voice_join`.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// A gateway connection as the peer uses it: frames out, frames in.
pub trait Signaling: Send + 'static {
    fn send(&mut self, frame: ClientFrame) -> impl Future<Output = ()> + Send;
    /// The next frame from the server, or `None` when none came within `within` or the
    /// connection ended. Keeping the connection alive (heartbeats) is the
    /// implementation's business.
    fn next(&mut self, within: Duration) -> impl Future<Output = Option<ServerFrame>> + Send;
}

/// Why a peer could not join; none of these is worth retrying as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    #[error("the gateway connection ended before `voice_joined`")]
    Closed,
    #[error("no `voice_joined` within {0:?}")]
    NoAnswer(Duration),
    #[error("the server refused `voice_join`: {code:?} {message}")]
    Refused { code: ErrorCode, message: String },
    #[error("the room is in {0:?} mode, not sfu")]
    NotSfu(RoomMode),
    #[error("the peer's UDP socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error("the peer connection: {0}")]
    Rtc(String),
}

/// What a peer received and sent.
#[derive(Debug, Default, Clone)]
pub struct Heard {
    pub frames: HashMap<Id, usize>,
    pub last: HashMap<Id, Instant>,
    /// Frames whose tag did not match the stream's sender (should stay 0).
    pub mislabelled: usize,
    /// Send→receive time of every frame received, in microseconds, in arrival order.
    pub delays_us: Vec<u32>,
    pub frames_sent: usize,
    /// ICE and DTLS are up (str0m's `Connected`).
    pub connected: bool,
    /// Remote tracks the peer has been offered, ever.
    pub tracks: usize,
    /// The server's `error` frames after joining (an op of ours it refused), and
    /// descriptions from the remote that str0m refused.
    pub refusals: Vec<String>,
    /// Every datagram's bytes (media, RTCP, ICE, DTLS), without IP and UDP headers.
    pub bytes_out: u64,
    pub bytes_in: u64,
}

impl Heard {
    pub fn total_frames(&self) -> usize {
        self.frames.values().sum()
    }
}

// Signaling is nearly every command; boxing it would allocate per event to shrink two
// one-byte variants.
#[allow(clippy::large_enum_variant)]
enum Command {
    Signal(Event),
    Speak(bool),
    Stop,
}

/// A running participant; its connection ends when it is dropped.
pub struct SfuPeer {
    pub session_id: Id,
    /// The peer it negotiates with: the room's SFU, or the far end of a direct pair.
    pub sfu_session_id: Id,
    commands: mpsc::UnboundedSender<Command>,
    heard: Arc<Mutex<Heard>>,
    /// Gateway events the peer did not consume (everything but its remote's signaling).
    events: mpsc::UnboundedReceiver<Event>,
}

/// The tag a session's frames carry, so a frame can be checked against its stream.
pub fn tag_of(session_id: Id) -> u8 {
    (session_id.0 % 251) as u8
}

/// The clock every peer of this process stamps frames with, in microseconds.
fn clock_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl SfuPeer {
    /// Joins `channel_id` over `gw` (the room must be in sfu mode) and offers to its SFU.
    pub async fn join(mut gw: impl Signaling, channel_id: Id) -> Result<SfuPeer, PeerError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        gw.send(ClientFrame::VoiceJoin { channel_id }).await;
        let deadline = Instant::now() + JOIN_WAIT;
        let (session_id, sfu_session_id) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(PeerError::NoAnswer(JOIN_WAIT));
            }
            match gw.next(left).await {
                Some(ServerFrame::Control(ControlFrame::VoiceJoined {
                    self_session_id,
                    sfu_session_id,
                    mode,
                    ..
                })) => break (self_session_id, sfu_session_id.ok_or(PeerError::NotSfu(mode))?),
                Some(ServerFrame::Control(ControlFrame::Error { op, code, message }))
                    if op == "voice_join" =>
                {
                    return Err(PeerError::Refused { code, message })
                }
                // Events before the answer (presence, others' voice states) are the caller's.
                Some(ServerFrame::Event(e)) => {
                    let _ = events_tx.send(e.event);
                }
                Some(_) => {}
                None if Instant::now() < deadline => return Err(PeerError::Closed),
                None => return Err(PeerError::NoAnswer(JOIN_WAIT)),
            }
        };
        Self::start(gw, session_id, sfu_session_id, (events_tx, events), true).await
    }

    /// Offers to `remote` (the SFU peer of the room `gw` is already in, or a direct peer
    /// waiting in [`SfuPeer::answer`]).
    pub async fn connect(gw: impl Signaling, session_id: Id, remote: Id) -> Result<SfuPeer, PeerError> {
        Self::start(gw, session_id, remote, mpsc::unbounded_channel(), true).await
    }

    /// Sends nothing and answers the offers `remote` makes: the listening end of a
    /// direct pair.
    pub async fn answer(gw: impl Signaling, session_id: Id, remote: Id) -> Result<SfuPeer, PeerError> {
        Self::start(gw, session_id, remote, mpsc::unbounded_channel(), false).await
    }

    async fn start(
        mut gw: impl Signaling,
        session_id: Id,
        remote: Id,
        (events_tx, events): (mpsc::UnboundedSender<Event>, mpsc::UnboundedReceiver<Event>),
        offer: bool,
    ) -> Result<SfuPeer, PeerError> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        let local = socket.local_addr()?;
        let now = Instant::now();
        let mut rtc = Rtc::builder().clear_codecs().enable_opus(true).set_reordering_size_audio(0).build(now);
        let candidate = Candidate::host(local, "udp").map_err(|e| PeerError::Rtc(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let (mid, pending) = if offer {
            let mut change = rtc.sdp_api();
            // The stream id names us, so a direct peer knows whose frames these are.
            let stream = session_id.to_string();
            let mid = change.add_media(
                MediaKind::Audio,
                Direction::SendOnly,
                Some(stream.clone()),
                Some(stream),
                None,
            );
            let (sdp, pending) = change.apply().ok_or_else(|| PeerError::Rtc("no offer to make".into()))?;
            gw.send(ClientFrame::SdpOffer { to: remote, sdp: sdp.to_sdp_string() }).await;
            (Some(mid), Some(pending))
        } else {
            (None, None)
        };

        let (commands, inbox) = mpsc::unbounded_channel();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let (to_gateway, from_peer) = mpsc::unbounded_channel();
        let link = Link { remote, peer: commands.clone(), events: events_tx, heard: Arc::clone(&heard) };
        tokio::spawn(pump_gateway(gw, link, from_peer));
        let state = PeerState {
            rtc,
            socket,
            local,
            mid,
            pending,
            streams: HashMap::new(),
            speaking: false,
            next_frame: now,
            media_time: 0,
            tag: tag_of(session_id),
            heard: Arc::clone(&heard),
            remote,
            to_gateway,
        };
        tokio::spawn(state.run(inbox));
        Ok(SfuPeer { session_id, sfu_session_id: remote, commands, heard, events })
    }

    pub fn speak(&self, on: bool) {
        let _ = self.commands.send(Command::Speak(on));
    }

    /// A copy of everything heard so far (with every delay: meant for the end of a run).
    pub fn heard(&self) -> Heard {
        self.lock().clone()
    }

    pub fn frames_from(&self, session_id: Id) -> usize {
        self.lock().frames.get(&session_id).copied().unwrap_or(0)
    }

    /// Frames received from anyone.
    pub fn total_frames(&self) -> usize {
        self.lock().total_frames()
    }

    /// Frames written to the connection so far.
    pub fn frames_sent(&self) -> usize {
        self.lock().frames_sent
    }

    /// Forgets the delays recorded so far (say, those of the warm-up).
    pub fn clear_delays(&self) {
        self.lock().delays_us.clear();
    }

    /// The next gateway event matching `pred` (others are dropped).
    ///
    /// # Panics
    /// When the connection ends or nothing matches within `within`: this is for tests.
    pub async fn wait_for_event(&mut self, pred: impl Fn(&Event) -> bool, within: Duration) -> Event {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) if pred(&event) => return event,
                Ok(Some(_)) => {}
                Ok(None) => panic!("the gateway connection ended"),
                Err(_) => panic!("no matching event within {within:?}"),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SfuPeer {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
    }
}

/// Where the gateway's frames for a peer go.
struct Link {
    remote: Id,
    peer: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedSender<Event>,
    heard: Arc<Mutex<Heard>>,
}

/// Owns the gateway connection: the remote's signaling goes to the peer, everything
/// else to the caller; frames the peer wants sent go out. Ends with the peer.
async fn pump_gateway(
    mut gw: impl Signaling,
    link: Link,
    mut outgoing: mpsc::UnboundedReceiver<ClientFrame>,
) {
    loop {
        tokio::select! {
            frame = outgoing.recv() => match frame {
                Some(frame) => gw.send(frame).await,
                None => return,
            },
            frame = gw.next(Duration::from_millis(200)) => match frame {
                Some(ServerFrame::Event(e)) => {
                    let from_remote = matches!(&e.event,
                        Event::SdpOffer { from, .. } | Event::SdpAnswer { from, .. } | Event::IceCandidate { from, .. }
                        if *from == link.remote);
                    if from_remote {
                        let _ = link.peer.send(Command::Signal(e.event));
                    } else {
                        // Nobody reading events is fine: many callers only want media.
                        let _ = link.events.send(e.event);
                    }
                }
                Some(ServerFrame::Control(ControlFrame::Error { op, code, message })) => {
                    let mut heard = link.heard.lock().unwrap_or_else(|e| e.into_inner());
                    heard.refusals.push(format!("{op}: {code:?} {message}"));
                }
                Some(_) => {}
                // Quiet, or the connection ended: the caller decides what that means.
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

struct PeerState {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    /// The m-line we send on; `None` for the listening end of a direct pair.
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    /// Received m-lines and whose audio they carry (from the remote's offers).
    streams: HashMap<Mid, Id>,
    speaking: bool,
    next_frame: Instant,
    media_time: u64,
    tag: u8,
    heard: Arc<Mutex<Heard>>,
    remote: Id,
    to_gateway: mpsc::UnboundedSender<ClientFrame>,
}

impl PeerState {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; 2048];
        loop {
            let Some(timeout) = self.drain() else { return };
            let wake = if self.speaking { timeout.min(self.next_frame) } else { timeout };
            tokio::select! {
                command = inbox.recv() => match command {
                    Some(Command::Speak(on)) => {
                        self.speaking = on;
                        self.next_frame = Instant::now();
                    }
                    Some(Command::Signal(event)) => self.signal(event),
                    Some(Command::Stop) | None => {
                        self.rtc.disconnect();
                        return;
                    }
                },
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((len, source)) = received else { continue };
                    self.lock().bytes_in += len as u64;
                    let Ok(contents) = buf[..len].try_into() else { continue };
                    let input = Input::Receive(
                        Instant::now(),
                        Receive { proto: Protocol::Udp, source, destination: self.local, contents },
                    );
                    if self.rtc.handle_input(input).is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {
                    let now = Instant::now();
                    if self.rtc.handle_input(Input::Timeout(now)).is_err() {
                        return;
                    }
                    if self.speaking && now >= self.next_frame {
                        self.send_frame(now);
                    }
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send_frame(&mut self, now: Instant) {
        // On the frame clock, not `now + FRAME`: late wake-ups must not lower the rate.
        // After a stall longer than a frame the clock restarts instead of bursting.
        self.next_frame += FRAME;
        if self.next_frame + FRAME < now {
            self.next_frame = now + FRAME;
        }
        self.media_time += 960;
        let Some(writer) = self.mid.and_then(|mid| self.rtc.writer(mid)) else { return };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else { return };
        let mut payload = vec![0u8; FRAME_BYTES];
        payload[0] = self.tag;
        payload[1..9].copy_from_slice(&clock_us().to_be_bytes());
        let time = MediaTime::new(self.media_time, Frequency::FORTY_EIGHT_KHZ);
        if writer.audio_level(-20, true).write(pt, now, time, payload).is_ok() {
            self.lock().frames_sent += 1;
        }
    }

    /// Sends what is due; returns when the connection next wants time, or `None` once
    /// it is gone.
    fn drain(&mut self) -> Option<Instant> {
        // Bounds the timeouts fed in one call, should one never move on.
        let mut due_now = 0;
        loop {
            match self.rtc.poll_output().ok()? {
                // A frame just written is packetized on the next timeout, which is due
                // at once: feed it now rather than through a timer, whose millisecond
                // ticks would add up to a millisecond to every frame's delay.
                Output::Timeout(at) if at <= Instant::now() && due_now < 4 => {
                    due_now += 1;
                    self.rtc.handle_input(Input::Timeout(Instant::now())).ok()?;
                }
                Output::Timeout(at) => return Some(at),
                Output::Transmit(t) => {
                    if self.socket.try_send_to(&t.contents, t.destination).is_ok() {
                        self.lock().bytes_out += t.contents.len() as u64;
                    }
                }
                Output::Event(RtcEvent::MediaData(data)) => {
                    let Some(from) = self.streams.get(&data.mid).copied() else { continue };
                    let received = clock_us();
                    let mut heard = self.lock();
                    *heard.frames.entry(from).or_default() += 1;
                    heard.last.insert(from, Instant::now());
                    if data.data.first() != Some(&tag_of(from)) {
                        heard.mislabelled += 1;
                    }
                    if let Some(sent) = data.data.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                        let delay = received.saturating_sub(u64::from_be_bytes(sent));
                        heard.delays_us.push(u32::try_from(delay).unwrap_or(u32::MAX));
                    }
                }
                Output::Event(RtcEvent::Connected) => self.lock().connected = true,
                Output::Event(_) => {}
            }
        }
    }

    /// Applies the remote's signaling. What str0m refuses is written down in
    /// [`Heard::refusals`] (a test then sees why nothing flows) and the peer goes on.
    fn signal(&mut self, event: Event) {
        let refused = match event {
            Event::SdpAnswer { sdp, .. } => match (SdpAnswer::from_sdp_string(&sdp), self.pending.take()) {
                (Ok(answer), Some(pending)) => {
                    self.rtc.sdp_api().accept_answer(pending, answer).err().map(|e| format!("answer: {e}"))
                }
                (Ok(_), None) => Some("an answer with no offer of ours pending".into()),
                (Err(e), _) => Some(format!("answer does not parse: {e}")),
            },
            Event::SdpOffer { sdp, .. } => {
                self.streams.extend(streams_of(&sdp));
                self.lock().tracks = self.streams.len();
                match SdpOffer::from_sdp_string(&sdp).map(|offer| self.rtc.sdp_api().accept_offer(offer)) {
                    Ok(Ok(answer)) => {
                        let answer = ClientFrame::SdpAnswer { to: self.remote, sdp: answer.to_sdp_string() };
                        let _ = self.to_gateway.send(answer);
                        None
                    }
                    Ok(Err(e)) => Some(format!("offer: {e}")),
                    Err(e) => Some(format!("offer does not parse: {e}")),
                }
            }
            _ => None,
        };
        if let Some(refused) = refused {
            self.lock().refusals.push(refused);
        }
    }
}

/// Each m-section's mid and the session id its `msid` stream names.
fn streams_of(sdp: &str) -> Vec<(Mid, Id)> {
    sdp.split("\nm=")
        .skip(1)
        .filter_map(|section| {
            let attr = |name: &str| {
                section.lines().find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            };
            let mid = attr("a=mid:")?;
            let stream = attr("a=msid:")?.split_whitespace().next()?.parse::<i64>().ok()?;
            Some((Mid::from(mid.as_str()), Id(stream)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_read_from_each_sections_mid_and_msid() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=msid:42 t0\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=msid:- t1\r\n\
                   m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:2\r\na=msid:7 t2\r\n";
        assert_eq!(
            streams_of(sdp),
            vec![(Mid::from("0"), Id(42)), (Mid::from("2"), Id(7))],
            "a section whose stream id is no session id names nobody"
        );
    }

    #[test]
    fn tags_tell_neighbouring_sessions_apart() {
        assert_ne!(tag_of(Id(1000)), tag_of(Id(1001)));
        assert_eq!(tag_of(Id(251)), tag_of(Id(502)), "the tag is the id modulo 251");
    }
}
