//! The SFU's one task: the UDP socket every participant shares, each participant's
//! [`Rtc`](str0m::Rtc) driven by the packets and timeouts it is due, and the commands the
//! gateway sends. Packets are told apart by source address once a participant's ICE
//! check has claimed it, and by ICE credentials until then.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use cromulent_protocol::event::Event;
use cromulent_protocol::Id;
use str0m::net::{Protocol, Receive};
use str0m::{Event as RtcEvent, IceConnectionState, Input, Output};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::caps::Caps;
use super::forward::forward;
use super::metrics::SfuMetrics;
use super::participant::{Participant, Who};
use super::{Command, SfuSignal, Signal, SFU_USER_ID};
use crate::bus::{Audience, Bus, BusMessage, Envelope};
use std::sync::Arc;

/// How long a retired room's connections stay up, so clients moving back to a mesh
/// keep hearing each other until their peer connections carry audio.
const RETIRE_GRACE: Duration = Duration::from_secs(10);
/// How long a participant whose ICE went quiet may take to restart it.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(30);
/// The longest the loop sleeps with nothing due.
const IDLE_WAKE: Duration = Duration::from_secs(1);
/// Larger than any datagram a participant sends (MTU-sized RTP, STUN, DTLS).
const DATAGRAM_MAX: usize = 2048;

pub(super) fn spawn(
    socket: UdpSocket,
    advertised: SocketAddr,
    caps: Caps,
    inbox: mpsc::UnboundedReceiver<Command>,
    bus: Bus,
    metrics: Arc<SfuMetrics>,
) {
    let (outbox, events) = mpsc::unbounded_channel();
    tokio::spawn(publish(bus, events));
    let media = MediaLoop {
        socket,
        advertised,
        caps,
        inbox,
        outbox,
        metrics,
        rooms: HashMap::new(),
        room_of: HashMap::new(),
        by_source: HashMap::new(),
        retiring: Vec::new(),
        quiet_since: HashMap::new(),
    };
    tokio::spawn(media.run());
}

/// Signaling for participants leaves through the bus, which finds their gateway node;
/// a separate task, so the media loop never waits on it.
async fn publish(bus: Bus, mut events: mpsc::UnboundedReceiver<(Id, Event)>) {
    while let Some((session_id, event)) = events.recv().await {
        let audience = Audience::Sessions { session_ids: vec![session_id] };
        bus.publish(BusMessage::Event(Envelope { audience, event, skip_user: None })).await;
    }
}

enum Woke {
    Command(Option<Command>),
    Datagram(std::io::Result<(usize, SocketAddr)>),
    Timer,
}

struct MediaLoop {
    socket: UdpSocket,
    /// The address in our candidates; packets are handed to str0m as sent to it.
    advertised: SocketAddr,
    caps: Caps,
    inbox: mpsc::UnboundedReceiver<Command>,
    outbox: mpsc::UnboundedSender<(Id, Event)>,
    metrics: Arc<SfuMetrics>,
    /// Participants by room, then by session.
    rooms: HashMap<Id, HashMap<Id, Participant>>,
    room_of: HashMap<Id, Id>,
    by_source: HashMap<SocketAddr, Id>,
    /// Rooms (and the SFU peer they used) whose connections end at the instant.
    retiring: Vec<(Instant, Id, Id)>,
    /// Participants whose ICE is disconnected, since when.
    quiet_since: HashMap<Id, Instant>,
}

impl MediaLoop {
    async fn run(mut self) {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        loop {
            self.expire(Instant::now());
            let wake = self.next_wake(Instant::now());
            let woke = tokio::select! {
                command = self.inbox.recv() => Woke::Command(command),
                received = self.socket.recv_from(&mut buf) => Woke::Datagram(received),
                () = tokio::time::sleep_until(wake.into()) => Woke::Timer,
            };
            match woke {
                Woke::Command(None) => return,
                Woke::Command(Some(command)) => self.command(command, Instant::now()),
                Woke::Datagram(Ok((len, source))) => self.receive(&buf[..len], source, Instant::now()),
                // ICMP errors from a participant gone away surface here; its ICE
                // state tells the rest.
                Woke::Datagram(Err(e)) => tracing::trace!(error = %e, "SFU socket"),
                Woke::Timer => {}
            }
        }
    }

    fn participant(&mut self, session_id: Id) -> Option<&mut Participant> {
        let room = self.room_of.get(&session_id)?;
        self.rooms.get_mut(room)?.get_mut(&session_id)
    }

    fn command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Signal(signal) => self.signal(signal, now),
            Command::Remove { session_id } => self.cut(session_id, now),
            Command::Retire { channel_id, sfu_session_id } => {
                self.retiring.push((now + RETIRE_GRACE, channel_id, sfu_session_id));
            }
        }
    }

    fn signal(&mut self, signal: SfuSignal, now: Instant) {
        let SfuSignal { channel_id, sfu_session_id, session_id, user_id, signal } = signal;
        let current = self.participant(session_id).map(|p| p.who);
        // A session that moved rooms, or whose room moved to another SFU peer, starts over.
        if let Some(who) =
            current.filter(|w| w.channel_id != channel_id || w.sfu_session_id != sfu_session_id)
        {
            self.cut(who.session_id, now);
        }
        let known = self.participant(session_id).is_some();
        match signal {
            Signal::Offer { sdp } if known => {
                let answer = self.participant(session_id).map(|p| p.accept_offer(&sdp));
                match answer {
                    Some(Ok(sdp)) => self.tell(session_id, sfu_session_id, |from, from_user_id| {
                        Event::SdpAnswer { from, from_user_id, sdp }
                    }),
                    Some(Err(e)) => tracing::debug!(%session_id, error = %e, "SFU refused an offer"),
                    None => {}
                }
                self.negotiate(channel_id);
                self.pump(session_id, now);
            }
            Signal::Offer { sdp } => {
                let who = Who { session_id, user_id, channel_id, sfu_session_id };
                match Participant::accept(who, self.advertised, &sdp, self.caps.bucket(now), now) {
                    Ok((participant, answer)) => {
                        self.join(participant);
                        self.tell(session_id, sfu_session_id, |from, from_user_id| Event::SdpAnswer {
                            from,
                            from_user_id,
                            sdp: answer,
                        });
                        self.negotiate(channel_id);
                        self.pump(session_id, now);
                    }
                    Err(e) => tracing::debug!(%session_id, error = %e, "SFU refused a first offer"),
                }
            }
            Signal::Answer { sdp } => {
                if let Some(Err(e)) = self.participant(session_id).map(|p| p.accept_answer(&sdp)) {
                    tracing::debug!(%session_id, error = %e, "SFU refused an answer");
                }
                self.negotiate(channel_id);
                self.pump(session_id, now);
            }
            Signal::Candidate { candidate } => {
                if let Some(p) = self.participant(session_id) {
                    p.add_candidate(&candidate);
                }
            }
        }
    }

    /// Adds a participant to its room: it receives everyone there, everyone receives it.
    fn join(&mut self, mut participant: Participant) {
        let Who { session_id, channel_id, .. } = participant.who;
        let room = self.rooms.entry(channel_id).or_default();
        for other in room.values_mut() {
            other.want(session_id);
            participant.want(other.who.session_id);
        }
        room.insert(session_id, participant);
        self.room_of.insert(session_id, channel_id);
        self.metrics.update(session_id, |link| link.channel_id = channel_id);
    }

    /// Ends a participant's connection and takes its track out of everyone else's.
    fn cut(&mut self, session_id: Id, now: Instant) {
        let Some(channel_id) = self.room_of.remove(&session_id) else { return };
        let Some(room) = self.rooms.get_mut(&channel_id) else { return };
        if let Some(mut gone) = room.remove(&session_id) {
            gone.rtc.disconnect();
        }
        for other in room.values_mut() {
            other.unwant(session_id);
        }
        if room.is_empty() {
            self.rooms.remove(&channel_id);
        }
        self.by_source.retain(|_, owner| *owner != session_id);
        self.quiet_since.remove(&session_id);
        self.metrics.forget(session_id);
        self.negotiate(channel_id);
        let others: Vec<Id> =
            self.rooms.get(&channel_id).map(|r| r.keys().copied().collect()).unwrap_or_default();
        for other in others {
            self.pump(other, now);
        }
    }

    /// Sends each participant of the room whose tracks changed an offer.
    fn negotiate(&mut self, channel_id: Id) {
        let now = Instant::now();
        let Some(room) = self.rooms.get_mut(&channel_id) else { return };
        let offers: Vec<(Id, Id, String)> = room
            .values_mut()
            .filter_map(|p| p.offer_if_needed(now).map(|sdp| (p.who.session_id, p.who.sfu_session_id, sdp)))
            .collect();
        for (session_id, sfu_session_id, sdp) in offers {
            self.tell(session_id, sfu_session_id, |from, from_user_id| Event::SdpOffer {
                from,
                from_user_id,
                sdp,
            });
        }
    }

    fn tell(&self, session_id: Id, sfu_session_id: Id, event: impl FnOnce(Id, Id) -> Event) {
        let _ = self.outbox.send((session_id, event(sfu_session_id, SFU_USER_ID)));
    }

    fn receive(&mut self, datagram: &[u8], source: SocketAddr, now: Instant) {
        let Ok(contents) = datagram.try_into() else { return };
        let input = Input::Receive(
            now,
            Receive { proto: Protocol::Udp, source, destination: self.advertised, contents },
        );
        let claimed = self.by_source.get(&source).copied().filter(|id| {
            let room = self.room_of.get(id);
            room.and_then(|r| self.rooms.get(r)?.get(id)).is_some_and(|p| p.rtc.accepts(&input))
        });
        let owner = claimed.or_else(|| {
            self.rooms
                .values()
                .flat_map(|r| r.values())
                .find(|p| p.rtc.accepts(&input))
                .map(|p| p.who.session_id)
        });
        let Some(session_id) = owner else { return };
        self.by_source.insert(source, session_id);
        let handled = self.participant(session_id).map(|p| p.rtc.handle_input(input));
        if let Some(Err(e)) = handled {
            tracing::debug!(%session_id, error = %e, "SFU input failed; cutting the participant off");
            self.cut(session_id, now);
            return;
        }
        self.pump(session_id, now);
    }

    /// Drains a participant's output: datagrams go out, events are acted on, and the
    /// next timeout is noted.
    fn pump(&mut self, session_id: Id, now: Instant) {
        loop {
            let Some(p) = self.participant(session_id) else { return };
            let output = match p.rtc.poll_output() {
                Ok(output) => output,
                Err(e) => {
                    tracing::debug!(%session_id, error = %e, "SFU connection failed");
                    self.cut(session_id, now);
                    return;
                }
            };
            match output {
                Output::Timeout(at) => {
                    p.next_timeout = at;
                    return;
                }
                Output::Transmit(transmit) => {
                    // UDP: a full socket buffer drops the datagram like the network would.
                    let _ = self.socket.try_send_to(&transmit.contents, transmit.destination);
                }
                Output::Event(event) => self.event(session_id, event, now),
            }
        }
    }

    fn event(&mut self, session_id: Id, event: RtcEvent, now: Instant) {
        match event {
            RtcEvent::MediaAdded(added) => {
                if let Some(p) = self.participant(session_id) {
                    if added.direction.is_receiving() {
                        p.inbound = Some(added.mid);
                    }
                }
            }
            RtcEvent::MediaData(data) => {
                let Some(channel_id) = self.room_of.get(&session_id).copied() else { return };
                let Some(room) = self.rooms.get_mut(&channel_id) else { return };
                let Some(sender) = room.get_mut(&session_id) else { return };
                if sender.inbound != Some(data.mid) {
                    return;
                }
                self.metrics.received();
                if !sender.bucket.admit(now, data.data.len()) {
                    self.metrics.over_cap();
                    return;
                }
                if let Some(level) = data.ext_vals.audio_level {
                    let speaking = data.ext_vals.voice_activity.unwrap_or(level > SPEECH_ABOVE_DB);
                    self.metrics.update(session_id, |link| {
                        link.audio_level = Some(level);
                        link.speaking = speaking;
                    });
                }
                let mut broken = Vec::new();
                let listeners = room.values_mut().filter(|l| l.who.session_id != session_id);
                let fanout = forward(&data, session_id, listeners, &mut broken);
                self.metrics.forwarded(fanout.listeners, fanout.bytes);
                let listeners: Vec<Id> = room.keys().copied().filter(|id| *id != session_id).collect();
                for id in broken {
                    self.cut(id, now);
                }
                for id in listeners {
                    self.pump(id, now);
                }
            }
            RtcEvent::IceConnectionStateChange(state) => match state {
                IceConnectionState::Disconnected => {
                    self.quiet_since.entry(session_id).or_insert(now);
                }
                _ => {
                    self.quiet_since.remove(&session_id);
                }
            },
            RtcEvent::MediaIngressStats(stats) => {
                self.metrics.update(session_id, |link| link.loss_in = stats.loss.or(link.loss_in));
            }
            RtcEvent::MediaEgressStats(stats) => {
                self.metrics.update(session_id, |link| {
                    link.rtt = stats.rtt.or(link.rtt);
                    link.loss_out = stats.loss.or(link.loss_out);
                });
            }
            RtcEvent::PeerStats(stats) => {
                self.metrics.update(session_id, |link| link.rtt = link.rtt.or(stats.rtt));
            }
            _ => {}
        }
    }

    /// Feeds due timeouts, and ends what has waited too long: rooms retired past their
    /// grace, participants whose ICE stayed down.
    fn expire(&mut self, now: Instant) {
        let due: Vec<Id> = self
            .rooms
            .values()
            .flat_map(|r| r.values())
            .filter(|p| p.next_timeout <= now)
            .map(|p| p.who.session_id)
            .collect();
        for session_id in due {
            let handled = self.participant(session_id).map(|p| p.rtc.handle_input(Input::Timeout(now)));
            match handled {
                Some(Ok(())) if self.participant(session_id).is_some_and(|p| p.rtc.is_alive()) => {
                    self.pump(session_id, now)
                }
                Some(_) => self.cut(session_id, now),
                None => {}
            }
        }
        let unanswered: Vec<Id> = self
            .rooms
            .iter()
            .filter(|(_, room)| room.values().any(|p| p.answer_overdue(now)))
            .map(|(channel_id, _)| *channel_id)
            .collect();
        for channel_id in unanswered {
            self.negotiate(channel_id);
        }
        let stale: Vec<Id> = self
            .quiet_since
            .iter()
            .filter(|(_, since)| now.duration_since(**since) >= DISCONNECTED_GRACE)
            .map(|(id, _)| *id)
            .collect();
        for session_id in stale {
            self.cut(session_id, now);
        }
        let (due, later): (Vec<_>, Vec<_>) = self.retiring.drain(..).partition(|(at, _, _)| *at <= now);
        self.retiring = later;
        for (_, channel_id, sfu_session_id) in due {
            let retired: Vec<Id> = self
                .rooms
                .get(&channel_id)
                .map(|r| {
                    r.values()
                        .filter(|p| p.who.sfu_session_id == sfu_session_id)
                        .map(|p| p.who.session_id)
                        .collect()
                })
                .unwrap_or_default();
            for session_id in retired {
                self.cut(session_id, now);
            }
        }
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let timeouts = self.rooms.values().flat_map(|r| r.values()).map(|p| p.next_timeout);
        let retirements = self.retiring.iter().map(|(at, _, _)| *at);
        timeouts.chain(retirements).fold(now + IDLE_WAKE, Instant::min).max(now)
    }
}

/// Without the voice-activity flag, a level louder than this (dBov) counts as speech.
const SPEECH_ABOVE_DB: i8 = -50;
