//! TURN over TCP and TLS (RFC 5766 §2.1) for clients whose networks block UDP: every
//! connection is framed into STUN messages and ChannelData and merged into one
//! datagram-like socket for the `turn` crate, keyed by the client's address. Relaying
//! to peers stays UDP.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use webrtc_util::Conn;

use super::listener::{Guard, Verdict};

/// Open TCP connections this listener keeps; more are closed at once.
const MAX_CONNECTIONS: usize = 4096;
/// Open TCP connections from one address (a household or office behind one NAT).
const MAX_CONNECTIONS_PER_IP: usize = 64;
/// Frames waiting for the crate, from all connections.
const INBOUND_QUEUE: usize = 1024;
/// Frames waiting to be written to one client; past that it is too slow and is dropped.
const OUTBOUND_QUEUE: usize = 256;

/// How long a new connection may stay silent before its first message.
const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than any refresh interval (allocations last 10 minutes unless refreshed).
const IDLE_TIMEOUT: Duration = Duration::from_secs(11 * 60);

type Writers = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>;

pub struct TcpMux {
    local: SocketAddr,
    inbound: tokio::sync::Mutex<mpsc::Receiver<(Vec<u8>, SocketAddr)>>,
    writers: Writers,
    guard: Guard,
    accept: JoinHandle<()>,
}

impl Drop for TcpMux {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl TcpMux {
    /// Serves `listener`, with TLS when `tls` is given.
    pub fn start(listener: TcpListener, tls: Option<TlsAcceptor>, guard: Guard) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
        let writers: Writers = Arc::default();
        let accept = tokio::spawn(accept_loop(listener, tls, tx, Arc::clone(&writers)));
        Ok(Self { local, inbound: tokio::sync::Mutex::new(rx), writers, guard, accept })
    }

    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// Queues `frame` for the client at `to`; false when it is gone or too slow.
    fn write(&self, frame: Vec<u8>, to: SocketAddr) -> bool {
        let writer = self.writers.lock().expect("writers lock").get(&to).cloned();
        writer.is_some_and(|w| w.try_send(frame).is_ok())
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    tx: mpsc::Sender<(Vec<u8>, SocketAddr)>,
    writers: Writers,
) {
    let open = Arc::new(OpenConnections::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "TURN over TCP: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Counted from accept, so connections still in their TLS handshake count too;
        // dropping the stream closes it.
        let Some(admitted) = open.admit(peer.ip()) else { continue };
        let _ = stream.set_nodelay(true);
        let (tx, writers, tls) = (tx.clone(), Arc::clone(&writers), tls.clone());
        tokio::spawn(async move {
            match tls {
                None => serve(stream, peer, tx, writers).await,
                Some(tls) => match tokio::time::timeout(FIRST_FRAME_TIMEOUT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve(stream, peer, tx, writers).await,
                    Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TURN over TLS: handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TURN over TLS: handshake timed out"),
                },
            }
            drop(admitted);
        });
    }
}

/// Open connections per source address and in all, each counted until its guard drops.
#[derive(Default)]
struct OpenConnections(Mutex<(usize, HashMap<IpAddr, usize>)>);

struct Admitted {
    open: Arc<OpenConnections>,
    ip: IpAddr,
}

impl OpenConnections {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut guard = self.0.lock().expect("connections lock");
        let (total, by_ip) = &mut *guard;
        let mine = by_ip.entry(ip).or_insert(0);
        if *total >= MAX_CONNECTIONS || *mine >= MAX_CONNECTIONS_PER_IP {
            if *mine == 0 {
                by_ip.remove(&ip);
            }
            return None;
        }
        *mine += 1;
        *total += 1;
        Some(Admitted { open: Arc::clone(self), ip })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut guard = self.open.0.lock().expect("connections lock");
        let (total, by_ip) = &mut *guard;
        *total = total.saturating_sub(1);
        if let Some(mine) = by_ip.get_mut(&self.ip) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// One client connection until it closes: its frames go to the crate, the crate's
/// answers and relayed data come back through its writer.
async fn serve<S>(stream: S, peer: SocketAddr, tx: mpsc::Sender<(Vec<u8>, SocketAddr)>, writers: Writers)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_QUEUE);
    writers.lock().expect("writers lock").insert(peer, out_tx);
    let (read, write) = tokio::io::split(stream);
    tokio::spawn(write_frames(write, out_rx));
    read_frames(read, peer, tx).await;
    writers.lock().expect("writers lock").remove(&peer);
}

async fn read_frames(
    mut read: impl AsyncRead + Unpin,
    peer: SocketAddr,
    tx: mpsc::Sender<(Vec<u8>, SocketAddr)>,
) {
    // A connection must speak TURN at once, and then keep its allocation alive.
    let mut wait = FIRST_FRAME_TIMEOUT;
    while let Some(frame) = read_frame(&mut read, wait).await {
        wait = IDLE_TIMEOUT;
        if tx.send((frame, peer)).await.is_err() {
            break;
        }
    }
}

/// Reads one STUN message (20-byte header + length) or ChannelData (4-byte header +
/// length, padded to 4 over TCP; the padding is dropped). `None` when the stream ends,
/// stays silent for `wait`, or carries something else.
pub(super) async fn read_frame(read: &mut (impl AsyncRead + Unpin), wait: Duration) -> Option<Vec<u8>> {
    let frame = async {
        let mut head = [0u8; 4];
        read.read_exact(&mut head).await.ok()?;
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let (rest, keep) = match head[0] & 0xc0 {
            0x00 => (16 + len, 20 + len),
            0x40 => ((len + 3) & !3, 4 + len),
            _ => return None,
        };
        let mut frame = vec![0u8; 4 + rest];
        frame[..4].copy_from_slice(&head);
        read.read_exact(&mut frame[4..]).await.ok()?;
        frame.truncate(keep);
        Some(frame)
    };
    tokio::time::timeout(wait, frame).await.ok()?
}

async fn write_frames(mut write: impl AsyncWrite + Unpin, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(frame) = rx.recv().await {
        if write.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = write.shutdown().await;
}

/// A TLS acceptor from PEM files: the certificate chain and its private key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls::{crypto, ServerConfig};

    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TURN_TLS_CERT {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading TURN_TLS_KEY {}", key.display()))?;
    let config = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TURN TLS certificate and key do not fit together")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// ChannelData over TCP is padded to a multiple of four bytes.
pub(super) fn pad_channel_data(buf: &[u8]) -> Vec<u8> {
    let mut frame = buf.to_vec();
    if buf.first().is_some_and(|b| b & 0xc0 == 0x40) {
        frame.resize((buf.len() + 3) & !3, 0);
    }
    frame
}

#[async_trait]
impl Conn for TcpMux {
    async fn connect(&self, _addr: SocketAddr) -> webrtc_util::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported).into())
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        Ok(self.recv_from(buf).await?.0)
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        let mut inbound = self.inbound.lock().await;
        loop {
            let (frame, from) =
                inbound.recv().await.ok_or_else(|| io::Error::from(io::ErrorKind::BrokenPipe))?;
            match self.guard.inspect(&frame, from) {
                Verdict::Pass if frame.len() <= buf.len() => {
                    buf[..frame.len()].copy_from_slice(&frame);
                    return Ok((frame.len(), from));
                }
                Verdict::Answer(reply) if !reply.is_empty() => {
                    self.write(reply, from);
                }
                Verdict::Pass | Verdict::Answer(_) | Verdict::Drop => {}
            }
        }
    }

    async fn send(&self, _buf: &[u8]) -> webrtc_util::Result<usize> {
        Err(io::Error::from(io::ErrorKind::NotConnected).into())
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        self.guard.outgoing(buf);
        // A client that left or cannot keep up loses the frame, as over UDP.
        self.write(pad_channel_data(buf), target);
        Ok(buf.len())
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        Ok(self.local)
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        None
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.accept.abort();
        Ok(())
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_limited_per_address_until_they_close() {
        let open = Arc::new(OpenConnections::default());
        let ip = IpAddr::from([198, 51, 100, 1]);
        let held: Vec<_> =
            (0..MAX_CONNECTIONS_PER_IP).map(|_| open.admit(ip).expect("under the limit")).collect();
        assert!(open.admit(ip).is_none(), "one address may not take more");
        assert!(open.admit(IpAddr::from([198, 51, 100, 2])).is_some(), "another address may");
        drop(held);
        assert!(open.admit(ip).is_some(), "closed connections free their places");
    }

    #[test]
    fn channel_data_is_padded_and_stun_is_not() {
        assert_eq!(pad_channel_data(&[0x40, 0x00, 0x00, 0x01, 0xaa]), vec![0x40, 0, 0, 1, 0xaa, 0, 0, 0]);
        let stun = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3];
        assert_eq!(pad_channel_data(&stun), stun.to_vec(), "STUN messages are already aligned");
    }
}
