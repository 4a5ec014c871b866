//! `cromulent-server healthcheck`: asks a running server on this machine whether it is
//! ready, so a container image needs no HTTP client of its own for its `HEALTHCHECK`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::Config;

/// Longer than a healthy `/readyz` takes (one database round trip), shorter than the
/// probe intervals orchestrators use, so a hung server fails the check instead of
/// stacking probes.
const TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Unhealthy {
    /// Nothing answered (not started yet, stopped, or hung past the timeout). Retryable.
    #[error("no answer from {url}: {source}")]
    Unreachable { url: String, source: reqwest::Error },
    /// The server answered but is not ready (its database is unreachable). Retryable.
    #[error("{url} answered {status}")]
    NotReady { url: String, status: reqwest::StatusCode },
}

/// Where the server these settings describe can be reached from this machine: its bind
/// address, or loopback when it listens on every address.
pub fn probe_address(config: &Config) -> SocketAddr {
    let ip = match config.bind {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, config.port)
}

/// Succeeds when `/readyz` answers 200.
pub async fn probe(config: &Config) -> Result<(), Unhealthy> {
    let url = format!("http://{}/readyz", probe_address(config));
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // A proxy from the environment would probe some other machine.
        .no_proxy()
        .build()
        .map_err(|source| Unhealthy::Unreachable { url: url.clone(), source })?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|source| Unhealthy::Unreachable { url: url.clone(), source })?;
    match response.status() {
        reqwest::StatusCode::OK => Ok(()),
        status => Err(Unhealthy::NotReady { url, status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_on_every_address_is_probed_on_loopback() {
        let mut config = Config::with_data_dir("/nonexistent");
        config.port = 4100;
        assert_eq!(probe_address(&config), "127.0.0.1:4100".parse().expect("address"));
        config.bind = "::".parse().expect("ip");
        assert_eq!(
            probe_address(&config),
            "[::1]:4100".parse().expect("address"),
            "a server on every IPv6 address answers on ::1"
        );
        config.bind = "10.1.2.3".parse().expect("ip");
        assert_eq!(
            probe_address(&config),
            "10.1.2.3:4100".parse().expect("address"),
            "a server bound to one address listens only there"
        );
    }
}
