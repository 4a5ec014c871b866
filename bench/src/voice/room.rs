//! What every voice scenario needs around the server: one account per participant (a
//! user is in one voice room at a time), the `voice-main` room, str0m peers joined to its
//! SFU, the SFU's counters from `/metrics`, and the machine's load while it ran.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cromulent_protocol::Id;
use cromulent_testkit::sfu_peer::{SfuPeer, Signaling};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::account::{new_account, Account};
use crate::server::Server;
use crate::voice::link::GatewayLink;

/// The voice room every new account can join.
pub const ROOM: &str = "voice-main";

/// `count` accounts named `<prefix>0…`; argon2 makes each cost ≈ 50 ms of server CPU.
pub async fn accounts(server: &Server, prefix: &str, count: usize) -> anyhow::Result<Vec<Account>> {
    let anonymous = crate::account::anonymous(&server.base_url())?;
    let mut accounts = Vec::with_capacity(count);
    for i in 0..count {
        accounts.push(new_account(&anonymous, &format!("{prefix}{i}")).await?);
    }
    Ok(accounts)
}

/// The id of [`ROOM`].
pub async fn voice_room(account: &Account) -> anyhow::Result<Id> {
    account
        .client
        .channels()
        .await?
        .into_iter()
        .find(|c| c.channel.name == ROOM)
        .map(|c| c.channel.id)
        .with_context(|| format!("no `{ROOM}` channel"))
}

/// Opens a gateway connection per account (all identified before anyone joins, so the
/// gateway's own memory can be told from the SFU's).
pub async fn links(server: &Server, accounts: &[Account]) -> anyhow::Result<Vec<GatewayLink>> {
    let mut links = Vec::with_capacity(accounts.len());
    for account in accounts {
        links.push(GatewayLink::open(server.addr, &account.access_token().await?).await?);
    }
    Ok(links)
}

/// A gateway connection waiting for its turn to join, kept alive meanwhile: it
/// heartbeats and drops what arrives.
pub struct Parked {
    wake: oneshot::Sender<()>,
    task: JoinHandle<GatewayLink>,
}

impl Parked {
    pub fn new(mut link: GatewayLink) -> Self {
        let (wake, mut woken) = oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut woken => return link,
                    _ = link.next(Duration::from_secs(1)) => {}
                }
            }
        });
        Self { wake, task }
    }

    pub async fn resume(self) -> anyhow::Result<GatewayLink> {
        let _ = self.wake.send(());
        self.task.await.context("a parked gateway connection's task failed")
    }
}

/// Joins every link to `channel`'s SFU, one after another.
pub async fn join(links: Vec<GatewayLink>, channel: Id) -> anyhow::Result<Vec<SfuPeer>> {
    let mut peers = Vec::with_capacity(links.len());
    for (i, link) in links.into_iter().enumerate() {
        peers.push(SfuPeer::join(link, channel).await.with_context(|| format!("participant {i} joining"))?);
    }
    Ok(peers)
}

/// Waits until every listener has frames from every one of `talkers`.
pub async fn until_all_hear(peers: &[SfuPeer], talkers: &[Id], within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        let missing = peers
            .iter()
            .map(|l| talkers.iter().filter(|t| **t != l.session_id && l.frames_from(**t) == 0).count())
            .sum::<usize>();
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let deaf: Vec<String> = peers
                .iter()
                .enumerate()
                .filter(|(_, l)| talkers.iter().any(|t| *t != l.session_id && l.frames_from(*t) == 0))
                .map(|(i, l)| {
                    let heard = l.heard();
                    format!(
                        "#{i}: connected {}, {} tracks offered, {} frames heard, refused {:?}",
                        heard.connected,
                        heard.tracks,
                        heard.total_frames(),
                        heard.refusals
                    )
                })
                .collect();
            bail!(
                "after {within:?}, {missing} listener/talker pairs still carry no frame; {}",
                deaf.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The SFU's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SfuCounters {
    pub received: u64,
    pub forwarded: u64,
    pub bytes_forwarded: u64,
    pub over_cap: u64,
}

impl SfuCounters {
    /// Reads `/metrics` (served to loopback).
    pub async fn scrape(server: &Server) -> anyhow::Result<Self> {
        let url = format!("{}/metrics", server.base_url());
        let text = reqwest::get(&url).await?.error_for_status()?.text().await?;
        Self::parse(&text).context("no cromulent_sfu_* counters in /metrics")
    }

    fn parse(text: &str) -> Option<Self> {
        let value = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<u64>().ok())
        };
        Some(Self {
            received: value("cromulent_sfu_packets_received_total")?,
            forwarded: value("cromulent_sfu_packets_forwarded_total")?,
            bytes_forwarded: value("cromulent_sfu_bytes_forwarded_total")?,
            over_cap: value("cromulent_sfu_packets_over_cap_total")?,
        })
    }

    pub fn since(self, before: Self) -> Self {
        Self {
            received: self.received - before.received,
            forwarded: self.forwarded - before.forwarded,
            bytes_forwarded: self.bytes_forwarded - before.bytes_forwarded,
            over_cap: self.over_cap - before.over_cap,
        }
    }
}

/// The 1-minute load average, to write down how busy the shared machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Datagrams the kernel dropped because a UDP socket of process `pid` had its receive
/// buffer full: the sign that the socket's reader fell behind.
pub fn udp_drops(pid: u32) -> anyhow::Result<u64> {
    let mut inodes = std::collections::HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).context("listing the process's files")? {
        let target = fd.ok().and_then(|fd| std::fs::read_link(fd.path()).ok());
        let inode = target.as_ref().and_then(|t| t.to_str()?.strip_prefix("socket:[")?.strip_suffix(']'));
        if let Some(inode) = inode {
            inodes.insert(inode.to_owned());
        }
    }
    let mut drops = 0;
    for table in ["udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        drops += socket_drops(&text, &inodes);
    }
    Ok(drops)
}

/// Sums the `drops` column of the rows of a `/proc/net/udp` table whose inode is in `inodes`.
fn socket_drops(table: &str, inodes: &std::collections::HashSet<String>) -> u64 {
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            // sl, local, remote, st, queues, tr:when, retrnsmt, uid, timeout, inode, ref, pointer, drops
            let (inode, drops) = (fields.get(9)?, fields.get(12)?);
            inodes.contains(*inode).then(|| drops.parse::<u64>().ok()).flatten()
        })
        .sum()
}

/// CPU time this process (the load generator) has used.
pub fn own_cpu_time() -> anyhow::Result<Duration> {
    crate::server::proc_cpu_time(std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_read_by_exact_name() {
        let text = "# HELP cromulent_sfu_packets_received_total Media packets received by the SFU.\n\
                    # TYPE cromulent_sfu_packets_received_total counter\n\
                    cromulent_sfu_packets_received_total 120\n\
                    cromulent_sfu_packets_forwarded_total 5880\n\
                    cromulent_sfu_bytes_forwarded_total 470400\n\
                    cromulent_sfu_packets_over_cap_total 0\n\
                    cromulent_sfu_participants 50\n";
        let counters = SfuCounters::parse(text).expect("all four counters");
        assert_eq!(
            counters,
            SfuCounters { received: 120, forwarded: 5880, bytes_forwarded: 470_400, over_cap: 0 },
            "HELP and TYPE lines name the counter too and must not be read as its value"
        );
        assert_eq!(SfuCounters::parse("cromulent_sfu_participants 3\n"), None);
    }

    #[test]
    fn drops_are_summed_over_the_process_sockets_only() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
                     6620: 0100007F:BA40 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 341480 2 0000000014a5dda1 7\n\
                     8593: 00000000:81F5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 341484 2 00000000ec22b2ec 5\n\
                     8594: 00000000:81F6 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 999999 2 00000000ec22b2ec 100\n";
        let ours = ["341480".to_owned(), "341484".to_owned()].into_iter().collect();
        assert_eq!(socket_drops(table, &ours), 12, "another process's socket (inode 999999) is not ours");
    }
}
