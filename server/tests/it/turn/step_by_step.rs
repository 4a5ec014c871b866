//! A TURN client of our own that sends one message at a time: relay-only participants
//! reach the server's own SFU (its port alone), and an expired credential keeps no
//! allocation alive.

use super::*;

#[tokio::test]
async fn relay_only_participants_reach_the_servers_own_sfu_through_the_relay() {
    // Loopback peers refused: only the SFU's own exemption lets these through.
    let srv = start(false).await;
    let ann = srv.user("ann").await;
    let sfu = srv.state.gateway.hub.sfu().advertised();
    let username = format!("{}:{}", now_secs() + 600, ann.id);
    let mut client = TurnClient::connect(turn_port(&srv), &username).await;
    let reply = client.allocate().await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "allocates: {}", error_of(&reply));
    let reply = client.create_permission(sfu).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a permission for the SFU: {}", error_of(&reply));
    let reply = client.channel_bind(0x4000, sfu).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a channel to the SFU: {}", error_of(&reply));
    let neighbour = SocketAddr::new(sfu.ip(), sfu.port().wrapping_add(1));
    let reply = client.channel_bind(0x4001, neighbour).await;
    assert_eq!(error_of(&reply), "403", "the exemption is the SFU's port alone");
}

#[tokio::test]
async fn an_expired_credential_cannot_refresh_or_extend_its_allocation() {
    let srv = start(true).await;
    let ann = srv.user("ann").await;
    let expires_at = now_secs() + 2;
    let username = format!("{expires_at}:{}", ann.id);
    let mut client = TurnClient::connect(turn_port(&srv), &username).await;
    let peer = |port: u16| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);

    let reply = client.allocate().await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "fresh credentials allocate: {}", error_of(&reply));
    let reply = client.refresh(Duration::from_secs(600)).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "and refresh: {}", error_of(&reply));
    let reply = client.create_permission(peer(9)).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "and add permissions: {}", error_of(&reply));

    while now_secs() <= expires_at {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let reply = client.refresh(Duration::from_secs(600)).await;
    assert_eq!(error_of(&reply), "400", "an expired name must not keep the allocation alive");
    let reply = client.create_permission(peer(10)).await;
    assert_eq!(error_of(&reply), "400", "nor add a permission to it");
    let reply = client.channel_bind(0x4001, peer(11)).await;
    assert_eq!(error_of(&reply), "400", "nor bind a channel on it");
    let m = metrics(&srv).await;
    assert!(metric(&m, "cromulent_turn_refusals_total{reason=\"expired\"}") >= 3, "{m}");

    // Giving the allocation up still works, so its port and quota slot are freed now.
    let reply = client.refresh(Duration::ZERO).await;
    assert_eq!(reply.typ.class, CLASS_SUCCESS_RESPONSE, "a release is accepted: {}", error_of(&reply));
}

/// A TURN client speaking the protocol message by message (the `stun` and `turn` crates'
/// message types), so each request's answer can be checked.
struct TurnClient {
    socket: tokio::net::UdpSocket,
    username: String,
    password: String,
    realm: String,
    nonce: String,
}

impl TurnClient {
    async fn connect(port: u16, username: &str) -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("client socket");
        socket.connect(("127.0.0.1", port)).await.expect("the TURN server on loopback");
        let password = rest_password(username);
        let mut client = TurnClient {
            socket,
            username: username.into(),
            password,
            realm: String::new(),
            nonce: String::new(),
        };
        // The first Allocate is unauthenticated: the 401 names the realm and a nonce.
        let challenge = client
            .exchange(METHOD_ALLOCATE, vec![Box::new(RequestedTransport { protocol: PROTO_UDP })], false)
            .await;
        assert_eq!(error_of(&challenge), "401", "an unauthenticated Allocate is challenged");
        let text = |attr| {
            let mut t = TextAttribute::new(attr, String::new());
            t.get_from(&challenge).expect("the challenge carries realm and nonce");
            t.text
        };
        client.realm = text(ATTR_REALM);
        client.nonce = text(ATTR_NONCE);
        client
    }

    async fn allocate(&mut self) -> Message {
        self.exchange(METHOD_ALLOCATE, vec![Box::new(RequestedTransport { protocol: PROTO_UDP })], true).await
    }

    async fn refresh(&mut self, lifetime: Duration) -> Message {
        self.exchange(METHOD_REFRESH, vec![Box::new(Lifetime(lifetime))], true).await
    }

    async fn create_permission(&mut self, peer: SocketAddr) -> Message {
        self.exchange(
            METHOD_CREATE_PERMISSION,
            vec![Box::new(PeerAddress { ip: peer.ip(), port: peer.port() })],
            true,
        )
        .await
    }

    async fn channel_bind(&mut self, channel: u16, peer: SocketAddr) -> Message {
        let attrs: Vec<Box<dyn Setter>> = vec![
            Box::new(ChannelNumber(channel)),
            Box::new(PeerAddress { ip: peer.ip(), port: peer.port() }),
        ];
        self.exchange(METHOD_CHANNEL_BIND, attrs, true).await
    }

    /// Sends one request (signed with the long-term credential when `signed`) and returns
    /// the answer with the same transaction id.
    async fn exchange(&mut self, method: StunMethod, attrs: Vec<Box<dyn Setter>>, signed: bool) -> Message {
        let id = TransactionId::new();
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(id), Box::new(MessageType::new(method, CLASS_REQUEST))];
        setters.extend(attrs);
        if signed {
            setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, self.username.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_REALM, self.realm.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_NONCE, self.nonce.clone())));
            setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
                self.username.clone(),
                self.realm.clone(),
                self.password.clone(),
            )));
        }
        let mut request = Message::new();
        request.build(&setters).expect("a valid request");
        let mut buf = vec![0u8; 1500];
        // UDP on loopback rarely loses a datagram, but a retry costs nothing.
        for _ in 0..5 {
            self.socket.send(&request.raw).await.expect("send to the TURN server");
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Ok(n)) = tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                let mut reply = Message::new();
                if reply.unmarshal_binary(&buf[..n]).is_ok() && reply.transaction_id == id {
                    return reply;
                }
            }
        }
        panic!("no answer to {method} from the TURN server");
    }
}

/// The error code of an error response, or what the message is instead.
fn error_of(m: &Message) -> String {
    let mut code = ErrorCodeAttribute::default();
    match code.get_from(m) {
        Ok(()) => code.code.0.to_string(),
        Err(_) => format!("no error ({})", m.typ),
    }
}
