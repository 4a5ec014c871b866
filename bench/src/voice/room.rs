//! What every voice scenario needs around the server: one account per participant (a
//! user is in one voice room at a time), the `voice-main` room, str0m peers joined to its
//! SFU, the SFU's counters from `/metrics`, and the machine's load while it ran.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cromulent_protocol::Id;
use cromulent_testkit::sfu_peer::SfuPeer;

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
            bail!("after {within:?}, {missing} listener/talker pairs still carry no frame");
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
}
