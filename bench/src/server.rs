//! The server under test: a release `cromulent-server` process started by the test kit
//! with a fresh data directory (and a fresh PostgreSQL database when asked), and what
//! `/proc/<pid>` says about its memory and CPU time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use cromulent_testkit::{Database, ServerLaunch, ServerProcess, Storage};

/// Which database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

impl DbKind {
    pub fn label(self) -> &'static str {
        match self {
            DbKind::Sqlite => "SQLite",
            DbKind::Postgres => "PostgreSQL",
        }
    }
}

/// How to start the server; shared by every scenario.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The server binary; default `$CARGO_TARGET_DIR/release/cromulent-server`.
    #[arg(long, env = "CROMULENT_SERVER_BIN")]
    pub server_bin: Option<PathBuf>,
    /// PostgreSQL superuser URL without a database; a fresh database is created in it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    pub postgres: String,
    /// Keep the data directory (and PostgreSQL database) after the run.
    #[arg(long)]
    pub keep: bool,
    /// Extra environment for the server, `KEY=VALUE`, repeatable (e.g. to try a setting).
    #[arg(long = "server-env", value_parser = parse_env_pair)]
    pub server_env: Vec<(String, String)>,
}

fn parse_env_pair(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{raw}: not KEY=VALUE"))
}

/// A running server process; killed (and its data removed) when dropped.
pub struct Server {
    // Declared first so it is dropped first: the process ends before its data goes.
    process: ServerProcess,
    pub addr: SocketAddr,
    /// `None` only while being dropped with `--keep`.
    storage: Option<Storage>,
    keep: bool,
}

/// Settings for one server start.
#[derive(Debug, Clone)]
pub struct Launch {
    pub db: DbKind,
    /// Extra environment, e.g. `GATEWAY_HEARTBEAT_MS`.
    pub env: Vec<(String, String)>,
}

impl Server {
    pub async fn start(args: &ServerArgs, launch: &Launch) -> anyhow::Result<Self> {
        let bin = match &args.server_bin {
            Some(bin) => bin.clone(),
            None => default_server_bin()?,
        };
        let database = match launch.db {
            DbKind::Sqlite => Database::Sqlite,
            DbKind::Postgres => Database::Postgres,
        };
        let storage = Storage::create_on(database, &args.postgres)
            .await
            .with_context(|| format!("creating a database at {}", args.postgres))?;
        let mut env: Vec<(String, String)> =
            LOAD_LIMITS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        env.extend(launch.env.iter().chain(&args.server_env).cloned());
        let process = ServerProcess::start(
            &ServerLaunch {
                bin,
                data_dir: storage.dir.path().to_owned(),
                database_url: storage.database_url().map(str::to_owned),
                env,
                log: Some(storage.dir.path().join("server.log")),
            },
            Duration::from_secs(60),
        )?;
        let addr = process.addr;
        Ok(Server { process, addr, storage: Some(storage), keep: args.keep })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    pub fn base_url(&self) -> String {
        self.process.base_url()
    }

    fn storage(&self) -> &Storage {
        self.storage.as_ref().expect("taken only when dropped")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.storage().dir.path().join("cromulent.db")
    }

    /// `postgres://…/<db>` when on PostgreSQL.
    pub fn database_url(&self) -> Option<&str> {
        self.storage().database_url()
    }

    /// Resident memory of the server, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        proc_rss_kib(self.pid())
    }

    /// User plus system CPU time the server has used so far.
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        proc_cpu_time(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.keep {
            return;
        }
        if let Some(Storage { dir, postgres }) = self.storage.take() {
            if let Some(mut pg) = postgres {
                pg.keep();
                eprintln!("kept database {}", pg.url);
            }
            eprintln!("kept {}", dir.keep().display());
        }
    }
}

fn default_server_bin() -> anyhow::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| "target".into());
    let bin = target.join("release").join("cromulent-server");
    if !bin.exists() {
        bail!("{} is missing: run `cargo build --release -p cromulent-server`", bin.display());
    }
    Ok(bin)
}

/// Runs one SQL statement (or script) with `psql` against `db` on the server at `admin_url`.
pub fn psql(admin_url: &str, db: &str, sql: &str) -> anyhow::Result<String> {
    let url = format!("{}/{db}", admin_url.trim_end_matches('/'));
    let out = Command::new("psql")
        .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs SQL with the `sqlite3` command-line shell on the file `db`.
pub fn sqlite3(db: &Path, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("sqlite3")
        .arg("-cmd")
        .arg(".timeout 30000")
        .arg(db)
        .arg(sql)
        .output()
        .context("running sqlite3")?;
    if !out.status.success() {
        bail!("sqlite3 failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub fn proc_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).context("reading /proc status")?;
    parse_vm_rss(&status).context("no VmRSS line")
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn proc_cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).context("reading /proc stat")?;
    let ticks = parse_cpu_ticks(&stat).context("unexpected /proc/<pid>/stat")?;
    Ok(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The command name in
/// parentheses may hold spaces, so fields are counted after its closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// Cores this machine has, for "per core" figures.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Limits a benchmark must raise: they protect a server from one address, and every
/// simulated client of a benchmark shares the address 127.0.0.1.
const LOAD_LIMITS: [(&str, &str); 5] = [
    ("REGISTRATIONS_PER_IP_PER_HOUR", "1000000"),
    ("HTTP_WRITES_PER_IP_PER_MINUTE", "100000000"),
    ("HTTP_WRITES_PER_USER_PER_MINUTE", "100000000"),
    ("LOGIN_FAILURES_PER_IP", "1000000"),
    ("GATEWAY_MAX_CONNECTIONS_PER_IP", "1000000"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_utime_plus_stime_even_when_the_name_has_spaces() {
        let stat = "4242 (cromulent server) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    150 25 0 0 20 0 9 0 12345 1000000 2500";
        assert_eq!(parse_cpu_ticks(stat), Some(175), "utime 150 + stime 25");
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_comes_from_the_vmrss_line_in_kib() {
        let status = "Name:\tcromulent-serv\nVmPeak:\t  900 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None, "kernel threads have no VmRSS");
    }
}
