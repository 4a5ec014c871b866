//! A participant of an SFU room for tests: a str0m peer connection on its own UDP
//! socket, signaling through a real gateway connection. It sends 20 ms frames whose
//! first byte is its tag while it "holds the key", and counts the frames it receives
//! per stream id (the sender's session id).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cromulent_protocol::event::Event;
use cromulent_protocol::gateway::{ClientFrame, ControlFrame, ServerFrame};
use cromulent_protocol::Id;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event as RtcEvent, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::gateway_client::{Gw, WAIT};

const FRAME: Duration = Duration::from_millis(20);

/// What a peer received: frames per sender session, with the time of the last one.
#[derive(Debug, Default, Clone)]
pub struct Heard {
    pub frames: HashMap<Id, usize>,
    pub last: HashMap<Id, Instant>,
    /// Frames whose tag did not match the stream's sender (should stay 0).
    pub mislabelled: usize,
}

enum Command {
    Signal(Event),
    Speak(bool),
}

pub struct SfuPeer {
    pub session_id: Id,
    pub sfu_session_id: Id,
    commands: mpsc::UnboundedSender<Command>,
    heard: Arc<Mutex<Heard>>,
    /// Gateway events the peer did not consume (everything but the SFU's signaling).
    events: mpsc::UnboundedReceiver<Event>,
}

/// The tag a session's frames carry, so a frame can be checked against its stream.
pub fn tag_of(session_id: Id) -> u8 {
    (session_id.0 % 251) as u8
}

impl SfuPeer {
    /// Joins `channel_id` over `gw` (which must answer `mode: sfu`) and connects to the SFU.
    pub async fn join(mut gw: Gw, channel_id: Id) -> SfuPeer {
        gw.send(ClientFrame::VoiceJoin { channel_id }).await;
        let (sfu_session_id, session_id) =
            match gw.wait_for_control(|f| matches!(f, ControlFrame::VoiceJoined { .. }), WAIT).await {
                ControlFrame::VoiceJoined { sfu_session_id, self_session_id, mode, .. } => (
                    sfu_session_id.unwrap_or_else(|| panic!("the room is not in sfu mode: {mode:?}")),
                    self_session_id,
                ),
                _ => unreachable!(),
            };
        Self::connect(gw, session_id, sfu_session_id).await
    }

    /// Connects to the SFU peer `sfu_session_id` of the room `gw` is already in.
    pub async fn connect(mut gw: Gw, session_id: Id, sfu_session_id: Id) -> SfuPeer {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("udp");
        let local = socket.local_addr().expect("addr");
        let now = Instant::now();
        let mut rtc = Rtc::builder().clear_codecs().enable_opus(true).set_reordering_size_audio(0).build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").expect("candidate"));
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        gw.send(ClientFrame::SdpOffer { to: sfu_session_id, sdp: offer.to_sdp_string() }).await;

        let (commands, inbox) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let (to_gateway, from_peer) = mpsc::unbounded_channel();
        tokio::spawn(pump_gateway(gw, sfu_session_id, commands.clone(), events_tx, from_peer));
        let state = PeerState {
            rtc,
            socket,
            local,
            mid,
            pending: Some(pending),
            streams: HashMap::new(),
            speaking: false,
            next_frame: now,
            media_time: 0,
            tag: tag_of(session_id),
            heard: Arc::clone(&heard),
            sfu_session_id,
            to_gateway,
        };
        tokio::spawn(state.run(inbox));
        SfuPeer { session_id, sfu_session_id, commands, heard, events }
    }

    pub fn speak(&self, on: bool) {
        let _ = self.commands.send(Command::Speak(on));
    }

    pub fn heard(&self) -> Heard {
        self.heard.lock().unwrap().clone()
    }

    /// The next gateway event matching `pred` (others are dropped).
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

    pub fn frames_from(&self, session_id: Id) -> usize {
        self.heard().frames.get(&session_id).copied().unwrap_or(0)
    }
}

/// Owns the gateway connection: the SFU's signaling goes to the peer, everything else
/// to the test; frames the peer wants sent go out.
async fn pump_gateway(
    mut gw: Gw,
    sfu: Id,
    peer: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedSender<Event>,
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
                    let from_sfu = matches!(&e.event,
                        Event::SdpOffer { from, .. } | Event::SdpAnswer { from, .. } | Event::IceCandidate { from, .. }
                        if *from == sfu);
                    if from_sfu {
                        let _ = peer.send(Command::Signal(e.event));
                    } else if events.send(e.event).is_err() {
                        return;
                    }
                }
                Some(_) => {}
                // Quiet, or the connection ended: the test decides what that means.
                None => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
}

struct PeerState {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// Received m-lines and whose audio they carry (from the SFU's offers).
    streams: HashMap<Mid, Id>,
    speaking: bool,
    next_frame: Instant,
    media_time: u64,
    tag: u8,
    heard: Arc<Mutex<Heard>>,
    sfu_session_id: Id,
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
                    None => return,
                },
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((len, source)) = received else { continue };
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

    fn send_frame(&mut self, now: Instant) {
        self.next_frame = now + FRAME;
        self.media_time += 960;
        let Some(writer) = self.rtc.writer(self.mid) else { return };
        let Some(pt) = writer.payload_params().next().map(|p| p.pt()) else { return };
        let mut payload = vec![0u8; 60];
        payload[0] = self.tag;
        let time = MediaTime::new(self.media_time, Frequency::FORTY_EIGHT_KHZ);
        let _ = writer.audio_level(-20, true).write(pt, now, time, payload);
    }

    /// Sends what is due; returns when the connection next wants time, or `None` once
    /// it is gone.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output().ok()? {
                Output::Timeout(at) => return Some(at),
                Output::Transmit(t) => {
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(RtcEvent::MediaData(data)) => {
                    let Some(from) = self.streams.get(&data.mid).copied() else { continue };
                    let mut heard = self.heard.lock().unwrap();
                    *heard.frames.entry(from).or_default() += 1;
                    heard.last.insert(from, Instant::now());
                    if data.data.first() != Some(&tag_of(from)) {
                        heard.mislabelled += 1;
                    }
                }
                Output::Event(_) => {}
            }
        }
    }

    fn signal(&mut self, event: Event) {
        match event {
            Event::SdpAnswer { sdp, .. } => {
                let answer = SdpAnswer::from_sdp_string(&sdp).expect("the SFU's answer parses");
                if let Some(pending) = self.pending.take() {
                    self.rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
                }
            }
            Event::SdpOffer { sdp, .. } => {
                self.streams.extend(streams_of(&sdp));
                let offer = SdpOffer::from_sdp_string(&sdp).expect("the SFU's offer parses");
                let answer = self.rtc.sdp_api().accept_offer(offer).expect("offer accepted");
                let _ = self
                    .to_gateway
                    .send(ClientFrame::SdpAnswer { to: self.sfu_session_id, sdp: answer.to_sdp_string() });
            }
            _ => {}
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
