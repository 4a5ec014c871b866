//! The TURN server's UDP socket, wrapped so each request is looked at before the `turn`
//! crate handles it: permissions and channels to denied peers are refused with 403,
//! allocations past a quota with 486, and credential failures are counted. The crate
//! has no hook for any of this, but it reads every datagram through this socket.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_USERNAME, ATTR_XOR_PEER_ADDRESS};
use stun::error_code::{
    ErrorCode, ErrorCodeAttribute, CODE_ALLOC_QUOTA_REACHED, CODE_BAD_REQUEST, CODE_FORBIDDEN,
};
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message, MessageType, Setter, CLASS_ERROR_RESPONSE, CLASS_INDICATION, CLASS_REQUEST,
    METHOD_ALLOCATE, METHOD_BINDING, METHOD_CHANNEL_BIND, METHOD_CREATE_PERMISSION, METHOD_REFRESH,
    METHOD_SEND,
};
use stun::textattrs::TextAttribute;
use tokio::net::UdpSocket;
use turn::proto::lifetime::Lifetime;
use turn::proto::peeraddr::PeerAddress;
use webrtc_util::Conn;

use super::credentials::RestUsername;
use super::metrics::Refusal;
use super::policy::QuotaExceeded;
use super::Shared;

/// The message type of an Allocate success response, as it appears on the wire.
const ALLOCATE_SUCCESS: [u8; 2] = [0x01, 0x03];

/// The Allocate owner handed from a listener's guard to its relay generator. The crate
/// handles one request per listener at a time, so the relay socket made while handling
/// an Allocate belongs to the owner named for it.
pub type OwnerSlot = Arc<Mutex<Option<String>>>;

/// The checks in front of the crate, for one listener (UDP socket or TCP mux).
pub struct Guard {
    shared: Arc<Shared>,
    owner: OwnerSlot,
}

pub struct GuardedListener {
    socket: UdpSocket,
    guard: Guard,
}

/// What to do with one message.
pub enum Verdict {
    Pass,
    /// Answer it ourselves; the crate never sees it.
    Answer(Vec<u8>),
    Drop,
}

impl GuardedListener {
    pub fn new(socket: UdpSocket, guard: Guard) -> Self {
        Self { socket, guard }
    }
}

impl Guard {
    pub fn new(shared: Arc<Shared>, owner: OwnerSlot) -> Self {
        Self { shared, owner }
    }

    /// Allocations are counted when granted: the crate may make and drop relay sockets
    /// while probing for a port.
    pub fn outgoing(&self, buf: &[u8]) {
        if buf.len() >= 20 && buf[..2] == ALLOCATE_SUCCESS && stun::message::is_message(buf) {
            self.shared.metrics.allocation();
        }
    }

    pub fn inspect(&self, datagram: &[u8], from: SocketAddr) -> Verdict {
        // ChannelData (first two bits 01) goes only to peers with a channel, and a
        // channel to a denied peer is never bound.
        if datagram.first().is_some_and(|b| b & 0xc0 == 0x40) || !stun::message::is_message(datagram) {
            return Verdict::Pass;
        }
        let mut m = Message::new();
        if m.unmarshal_binary(datagram).is_err() {
            return Verdict::Pass;
        }
        let mut caller = None;
        if m.typ.class == CLASS_REQUEST && m.typ.method != METHOD_BINDING {
            match self.authenticate(&m, from) {
                Ok(found) => caller = found,
                Err(verdict) => return verdict,
            }
        }
        match (m.typ.class, m.typ.method) {
            (CLASS_REQUEST, METHOD_BINDING) => {
                self.shared.metrics.binding_request();
                Verdict::Pass
            }
            (CLASS_REQUEST, METHOD_ALLOCATE) => self.inspect_allocate(&m, caller),
            (CLASS_REQUEST, METHOD_CREATE_PERMISSION | METHOD_CHANNEL_BIND) => match self.denied_peer(&m) {
                Some(refusal) => {
                    self.shared.metrics.refused(refusal);
                    Verdict::Answer(self.error(&m, CODE_FORBIDDEN, "Forbidden: peer address denied"))
                }
                None => Verdict::Pass,
            },
            (CLASS_INDICATION, METHOD_SEND) => match self.denied_peer(&m) {
                Some(refusal) => {
                    self.shared.metrics.refused(refusal);
                    Verdict::Drop
                }
                None => Verdict::Pass,
            },
            _ => Verdict::Pass,
        }
    }

    /// The crate remembers every nonce it hands out and forgets one only when it comes
    /// back stale, so only two kinds of request reach it: unauthenticated ones within
    /// the challenge budget (it answers 401 with a nonce), and ones with valid
    /// credentials. Forged traffic is answered here and cannot grow its nonce table
    /// faster than the budget.
    fn authenticate(&self, m: &Message, from: SocketAddr) -> Result<Option<(String, RestUsername)>, Verdict> {
        if !m.contains(ATTR_MESSAGE_INTEGRITY) {
            if self.shared.challenges.allow(from.ip()) {
                return Ok(None);
            }
            self.shared.metrics.refused(Refusal::ChallengeRate);
            return Err(Verdict::Drop);
        }
        let refuse = |why| {
            self.shared.metrics.refused(why);
            Err(Verdict::Answer(self.error_unsigned(m, CODE_BAD_REQUEST, "Bad Request: wrong credentials")))
        };
        let Some(username) = username(m) else { return refuse(Refusal::BadCredentials) };
        let Some(parsed) = RestUsername::parse(&username) else { return refuse(Refusal::BadCredentials) };
        let expired = parsed.expires_at < unix_now();
        // An expired name makes nothing and keeps nothing alive: no Allocate, Refresh,
        // CreatePermission or ChannelBind, so a leaked credential stops working at its
        // expiry. Only releasing an allocation (Refresh with lifetime 0) still works,
        // which frees its relay port and quota slot at once.
        if expired && !is_release(m) {
            return refuse(Refusal::Expired);
        }
        if MessageIntegrity(self.shared.auth_key(&username)).check(&mut m.clone()).is_err() {
            return refuse(Refusal::BadCredentials);
        }
        if expired {
            self.shared.grace(from);
        }
        Ok(Some((username, parsed)))
    }

    /// Applies the quotas to an authenticated Allocate and names the owner of the relay
    /// socket about to be made.
    fn inspect_allocate(&self, m: &Message, caller: Option<(String, RestUsername)>) -> Verdict {
        *self.owner.lock().expect("owner lock") = None;
        let Some((username, parsed)) = caller else {
            return Verdict::Pass; // the crate answers with a 401 challenge
        };
        if !self.shared.accepting.load(std::sync::atomic::Ordering::Relaxed) {
            self.shared.metrics.refused(Refusal::Disabled);
            return Verdict::Answer(self.error(m, CODE_FORBIDDEN, "Forbidden: the relay is switched off"));
        }
        let owner = parsed.user_id.map_or(username, |id| id.to_string());
        match self.shared.quotas.check(&owner) {
            Ok(()) => {
                *self.owner.lock().expect("owner lock") = Some(owner);
                Verdict::Pass
            }
            Err(why) => {
                self.shared.metrics.refused(match why {
                    QuotaExceeded::User => Refusal::UserQuota,
                    QuotaExceeded::Total => Refusal::TotalQuota,
                });
                Verdict::Answer(self.error(m, CODE_ALLOC_QUOTA_REACHED, "Allocation Quota Reached"))
            }
        }
    }

    /// The first peer address in `m` that policy refuses.
    fn denied_peer(&self, m: &Message) -> Option<Refusal> {
        for attr in m.attributes.0.iter().filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS) {
            let mut one = Message::new();
            one.transaction_id = m.transaction_id;
            one.add(ATTR_XOR_PEER_ADDRESS, &attr.value);
            let mut peer = PeerAddress::default();
            if peer.get_from(&one).is_err() {
                continue; // malformed: the crate answers 400
            }
            let peer_addr = SocketAddr::new(peer.ip, peer.port);
            // A permission covers an address, whatever port the client wrote; the
            // relay checks the port of every packet it sends.
            let checked = if m.typ.method == METHOD_CREATE_PERMISSION {
                self.shared.policy.check_permission(peer_addr)
            } else {
                self.shared.policy.check(peer_addr)
            };
            if let Err(range) = checked {
                tracing::debug!(peer = %peer, range = range.label(), "relay to a denied peer refused");
                return Some(Refusal::PeerDenied(range));
            }
        }
        None
    }

    /// An error response to `m`, signed when its username is one of ours.
    fn error(&self, m: &Message, code: ErrorCode, reason: &str) -> Vec<u8> {
        let key =
            username(m).filter(|_| m.contains(ATTR_MESSAGE_INTEGRITY)).map(|u| self.shared.auth_key(&u));
        error_response(m, code, reason, key)
    }

    fn error_unsigned(&self, m: &Message, code: ErrorCode, reason: &str) -> Vec<u8> {
        error_response(m, code, reason, None)
    }
}

fn error_response(m: &Message, code: ErrorCode, reason: &str, key: Option<Vec<u8>>) -> Vec<u8> {
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(m.transaction_id),
        Box::new(MessageType::new(m.typ.method, CLASS_ERROR_RESPONSE)),
        Box::new(ErrorCodeAttribute { code, reason: reason.as_bytes().to_vec() }),
    ];
    if let Some(key) = key {
        setters.push(Box::new(MessageIntegrity(key)));
    }
    let mut out = Message::new();
    match out.build(&setters) {
        Ok(()) => out.raw,
        Err(e) => {
            tracing::warn!(error = %e, "could not build a TURN error response");
            Vec::new()
        }
    }
}

/// A Refresh asking for lifetime 0: the client gives its allocation up.
fn is_release(m: &Message) -> bool {
    let mut lifetime = Lifetime::default();
    m.typ.method == METHOD_REFRESH && lifetime.get_from(m).is_ok() && lifetime.0.is_zero()
}

fn username(m: &Message) -> Option<String> {
    let mut attr = TextAttribute::new(ATTR_USERNAME, String::new());
    attr.get_from(m).ok()?;
    Some(attr.text)
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[async_trait]
impl Conn for GuardedListener {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        Ok(self.socket.connect(addr).await?)
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.socket.recv_from(buf).await?;
            match self.guard.inspect(&buf[..n], from) {
                Verdict::Pass => return Ok((n, from)),
                Verdict::Answer(reply) if !reply.is_empty() => {
                    let _ = self.socket.send_to(&reply, from).await;
                }
                Verdict::Answer(_) | Verdict::Drop => {}
            }
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        Ok(self.socket.send(buf).await?)
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        self.guard.outgoing(buf);
        Ok(self.socket.send_to(buf, target).await?)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use cromulent_protocol::Id;
    use std::time::Duration;
    use stun::agent::TransactionId;
    use stun::attributes::{ATTR_NONCE, ATTR_REALM};

    use super::super::credentials::TurnSecret;
    use super::super::metrics::TurnMetrics;
    use super::super::policy::{ChallengeBudget, OwnHost, PeerPolicy, Quotas};
    use super::*;

    const REALM: &str = "cromulent";

    fn guard() -> Guard {
        let shared = Arc::new(Shared {
            secret: TurnSecret::new("s3cret"),
            realm: REALM.into(),
            policy: Arc::new(PeerPolicy::new(
                false,
                false,
                OwnHost::new([], IpAddr::from([0, 0, 0, 0]), IpAddr::from([0, 0, 0, 0])),
            )),
            quotas: Arc::new(Quotas::new(10, 100)),
            metrics: Arc::new(TurnMetrics::default()),
            challenges: ChallengeBudget::default(),
            accepting: std::sync::atomic::AtomicBool::new(true),
            graced: Mutex::new(std::collections::HashSet::new()),
        });
        Guard::new(shared, OwnerSlot::default())
    }

    /// A signed request as a client would send it.
    fn request(
        method: stun::message::Method,
        expires_at: u64,
        password: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> Vec<u8> {
        request_with(method, expires_at, password, peer, None)
    }

    fn request_with(
        method: stun::message::Method,
        expires_at: u64,
        password: Option<&str>,
        peer: Option<SocketAddr>,
        lifetime: Option<Duration>,
    ) -> Vec<u8> {
        let secret = TurnSecret::new("s3cret");
        let creds = secret.issue(Id(7), expires_at);
        let password = password.map_or(creds.password.clone(), str::to_owned);
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(TransactionId::new()), Box::new(MessageType::new(method, CLASS_REQUEST))];
        if let Some(peer) = peer {
            setters.push(Box::new(PeerAddress { ip: peer.ip(), port: peer.port() }));
        }
        if let Some(lifetime) = lifetime {
            setters.push(Box::new(Lifetime(lifetime)));
        }
        setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, creds.username.clone())));
        setters.push(Box::new(TextAttribute::new(ATTR_REALM, REALM.into())));
        setters.push(Box::new(TextAttribute::new(ATTR_NONCE, "nonce".into())));
        setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
            creds.username,
            REALM.into(),
            password,
        )));
        let mut m = Message::new();
        m.build(&setters).expect("a valid message");
        m.raw
    }

    fn error_code(reply: &[u8]) -> u16 {
        let mut m = Message::new();
        m.unmarshal_binary(reply).expect("a STUN reply");
        let mut code = ErrorCodeAttribute::default();
        code.get_from(&m).expect("an error code");
        code.code.0
    }

    const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)), 40000);

    fn refused_with(verdict: Verdict) -> u16 {
        match verdict {
            Verdict::Answer(reply) => error_code(&reply),
            Verdict::Pass => panic!("passed to the crate"),
            Verdict::Drop => panic!("dropped without an answer"),
        }
    }

    #[test]
    fn expired_credentials_neither_make_nor_keep_an_allocation() {
        let guard = guard();
        let past = unix_now() - 60;
        let peer = Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)), 9));
        let ten_minutes = Some(Duration::from_secs(600));
        for (raw, what) in [
            (request(METHOD_ALLOCATE, past, None, None), "a new allocation"),
            (request(METHOD_REFRESH, past, None, None), "a refresh (default lifetime)"),
            (request_with(METHOD_REFRESH, past, None, None, ten_minutes), "a refresh for ten minutes"),
            (request(METHOD_CREATE_PERMISSION, past, None, peer), "a new permission"),
            (request(METHOD_CHANNEL_BIND, past, None, peer), "a channel binding"),
        ] {
            assert_eq!(refused_with(guard.inspect(&raw, CLIENT)), 400, "no {what} on expired credentials");
            assert!(!guard.shared.take_grace(CLIENT), "the crate is not told to accept {what}");
        }
        let future = unix_now() + 600;
        assert!(
            matches!(
                guard.inspect(&request_with(METHOD_REFRESH, future, None, None, ten_minutes), CLIENT),
                Verdict::Pass
            ),
            "the same refresh with valid credentials goes to the crate"
        );
    }

    #[test]
    fn expired_credentials_may_release_an_allocation() {
        let guard = guard();
        let past = unix_now() - 60;
        let release = request_with(METHOD_REFRESH, past, None, None, Some(Duration::ZERO));
        assert!(matches!(guard.inspect(&release, CLIENT), Verdict::Pass), "lifetime 0 only ends it");
        assert!(guard.shared.take_grace(CLIENT), "the crate is told to accept this one request");
        assert!(!guard.shared.take_grace(CLIENT), "and only that one");
        let forged = request_with(METHOD_REFRESH, past, Some("forged"), None, Some(Duration::ZERO));
        assert_eq!(
            refused_with(guard.inspect(&forged, CLIENT)),
            400,
            "an expired name still needs the right signature"
        );
        assert!(!guard.shared.take_grace(CLIENT));
    }

    #[test]
    fn permissions_to_denied_peers_get_403_with_the_request_id() {
        let guard = guard();
        let future = unix_now() + 600;
        let loopback = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9);
        let raw = request(METHOD_CREATE_PERMISSION, future, None, Some(loopback));
        let Verdict::Answer(reply) = guard.inspect(&raw, CLIENT) else { panic!("must be refused here") };
        assert_eq!(error_code(&reply), 403);
        assert_eq!(reply[8..20], raw[8..20], "the answer carries the request's transaction id");
        let public = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)), 9);
        let raw = request(METHOD_CREATE_PERMISSION, future, None, Some(public));
        assert!(matches!(guard.inspect(&raw, CLIENT), Verdict::Pass), "public peers go to the crate");
    }
}
