//! Command line and environment: every setting is a flag and an env var of the same name.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "cromulent-server", version, about = "Self-hosted voice and text chat")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage user accounts from the shell.
    #[command(subcommand)]
    User(UserCommand),
    /// Ask the server these settings describe (BIND, PORT) whether it is ready; exit 0
    /// when `/readyz` answers 200, 1 otherwise. For container health checks.
    Healthcheck,
    /// Desktop app releases offered to the app's updater (DATA_DIR/releases).
    #[command(subcommand)]
    Release(ReleaseCommand),
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Install the release in DIR: `release.json` (version, target, arch, notes,
    /// bundle), the bundle and its signature `<bundle>.sig`. Refused, with nothing
    /// installed, when any of them is missing or malformed.
    Add { dir: PathBuf },
    /// List the installed releases.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Make an existing account an admin.
    Promote { email: String },
    /// List every account.
    List,
}

/// Server settings. Names follow the original app's environment where it had one.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`; unset: SQLite file `cromulent.db` in DATA_DIR.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Where the SQLite file, the generated secret and other state live.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,

    /// Key material for signing tokens; unset: generated once and kept in DATA_DIR.
    #[arg(long, env = "SECRET_KEY_BASE", hide_env_values = true, global = true)]
    pub secret_key_base: Option<String>,

    #[arg(long, env = "PORT", default_value_t = 4000, global = true)]
    pub port: u16,

    #[arg(long, env = "BIND", default_value = "0.0.0.0", global = true)]
    pub bind: IpAddr,

    /// Database connections per node.
    #[arg(long, env = "POOL_SIZE", default_value_t = 10, global = true)]
    pub pool_size: u32,

    /// The address people reach this server at; links in mails point here.
    /// Unset: `http://localhost:PORT`.
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// 0–1023, different on every node sharing a database, so ids never collide.
    #[arg(long, env = "NODE_ID", default_value_t = 0, global = true,
          value_parser = clap::value_parser!(u16).range(0..1024))]
    pub node_id: u16,

    /// Extra origins (comma separated) allowed to use cookie sessions, besides our own.
    #[arg(long, env = "ALLOWED_ORIGINS", value_delimiter = ',', global = true)]
    pub allowed_origins: Vec<String>,

    /// Keep outgoing mail in memory and show it at /dev/mailbox instead of sending it,
    /// to loopback clients and admins only. Unset: on when SMTP_HOST is unset and the
    /// server is bound to loopback (BIND=127.0.0.1 or ::1). Never enable it in production.
    #[arg(long, env = "DEV_MAILBOX", global = true)]
    pub dev_mailbox: Option<bool>,

    /// Reverse proxies (comma separated CIDRs or addresses) whose `X-Forwarded-For` /
    /// `Forwarded` headers name the client; from anyone else those headers are ignored.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = crate::client_address::parse_network, global = true)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// A token that lets scrapers read /metrics from other addresses (as
    /// `Authorization: Bearer <token>`). Unset: /metrics answers loopback clients only.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    pub metrics_token: Option<String>,

    /// After SIGTERM: how long in-flight requests and gateway close frames get before
    /// the process exits anyway. Below the 10 s container runtimes wait before SIGKILL.
    #[arg(long, env = "SHUTDOWN_GRACE_MS", default_value_t = 8_000, global = true)]
    pub shutdown_grace_ms: u64,

    /// How long a device may retry a refresh with its previous token (the answer to the
    /// first try was lost) before that counts as token theft and ends the login.
    #[arg(long, env = "REFRESH_RETRY_GRACE_SECS", default_value_t = 60, global = true)]
    pub refresh_retry_grace_secs: u64,

    #[command(flatten)]
    pub limits: LimitsConfig,

    #[command(flatten)]
    pub smtp: SmtpConfig,

    /// NATS server shared by every node (`nats://host:4222`); unset: a single node.
    #[arg(long, env = "NATS_URL", global = true)]
    pub nats_url: Option<String>,

    /// The NATS subject the nodes of one deployment share.
    #[arg(long, env = "NATS_SUBJECT", default_value = "cromulent.bus", global = true)]
    pub nats_subject: String,

    /// STUN servers handed to voice clients (comma separated `stun:host:port`).
    #[arg(long, env = "STUN_URLS", value_delimiter = ',', global = true)]
    pub stun_urls: Vec<String>,

    /// Gateway heartbeat interval; a client silent for 1.5 times this is dropped.
    #[arg(long, env = "GATEWAY_HEARTBEAT_MS", default_value_t = 30_000, global = true)]
    pub gateway_heartbeat_ms: u64,

    /// How often a node tells the others (over NATS) that it is alive; one silent for
    /// three of these is taken for dead and the voice rooms it served move elsewhere.
    #[arg(long, env = "NODE_HEARTBEAT_MS", default_value_t = 2_000, global = true)]
    pub node_heartbeat_ms: u64,

    /// Events kept per gateway session for resume.
    #[arg(long, env = "GATEWAY_REPLAY_EVENTS", default_value_t = 1000, global = true)]
    pub gateway_replay_events: usize,

    /// Most gateway connections this node accepts.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS", default_value_t = 50_000, global = true)]
    pub gateway_max_connections: usize,

    /// Most gateway sessions one user may have open on this node; identify or resume
    /// beyond it is closed with 4014.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS_PER_USER", default_value_t = 20, global = true)]
    pub gateway_max_connections_per_user: usize,

    /// Most gateway sockets one client address (an IPv6 /64 counts as one) may have open
    /// on this node, identified or not; more get `429` at the upgrade.
    #[arg(long, env = "GATEWAY_MAX_CONNECTIONS_PER_IP", default_value_t = 100, global = true)]
    pub gateway_max_connections_per_ip: usize,

    /// Time a gateway socket gets to identify or resume before it is closed with 4013.
    #[arg(long, env = "GATEWAY_IDENTIFY_TIMEOUT_MS", default_value_t = 10_000, global = true)]
    pub gateway_identify_timeout_ms: u64,

    /// Largest `sdp_offer`/`sdp_answer` gateway frame, in bytes (other frames stay within
    /// 16 KiB). An SFU room's session description grows by about half a KiB per
    /// participant; the default holds rooms of a few hundred.
    #[arg(long, env = "GATEWAY_MAX_SDP_BYTES", default_value_t = 128 * 1024, global = true)]
    pub gateway_max_sdp_bytes: usize,

    /// Where desktop apps signed in here look for updates instead of this server's own
    /// releases: an updater endpoint, `{{target}}`, `{{arch}}` and `{{current_version}}`
    /// filled in as the Tauri updater does. The update endpoint then redirects there.
    /// Unset: releases installed with `release add` (DATA_DIR/releases) are offered.
    #[arg(long, env = "DESKTOP_UPDATE_URL", global = true)]
    pub desktop_update_url: Option<String>,

    /// Serve the web client from this folder instead of the embedded copy (development).
    #[arg(long, env = "WEB_DIR", global = true)]
    pub web_dir: Option<PathBuf>,

    #[command(flatten)]
    pub turn: TurnConfig,

    #[command(flatten)]
    pub voice: VoiceConfig,

    #[command(flatten)]
    pub attachments: crate::attachments::AttachmentsConfig,

    /// Let link previews fetch pages on loopback (127.0.0.0/8, ::1). For tests only.
    #[arg(long, env = "LINK_PREVIEW_ALLOW_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub link_preview_allow_loopback: bool,
}

/// The built-in STUN/TURN relay and the credentials handed to voice clients.
#[derive(Debug, Clone, Args)]
pub struct TurnConfig {
    /// Run the built-in STUN/TURN server (UDP).
    #[arg(long, env = "TURN_ENABLED", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub turn_enabled: bool,

    /// Also take TURN over TCP on TURN_PORT, for clients whose networks block UDP.
    #[arg(long, env = "TURN_TCP", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub turn_tcp: bool,

    /// TURN over TLS (`turns:`) port, served when TURN_TLS_CERT and TURN_TLS_KEY are set;
    /// 0 picks a free one.
    #[arg(long, env = "TURN_TLS_PORT", default_value_t = 5349, global = true)]
    pub turn_tls_port: u16,

    /// PEM certificate chain for TURN over TLS (e.g. the web server's certificate).
    #[arg(long, env = "TURN_TLS_CERT", global = true)]
    pub turn_tls_cert: Option<std::path::PathBuf>,

    /// PEM private key for TURN_TLS_CERT.
    #[arg(long, env = "TURN_TLS_KEY", global = true)]
    pub turn_tls_key: Option<std::path::PathBuf>,

    /// Address the TURN server listens on and relays from.
    #[arg(long, env = "TURN_BIND", default_value = "0.0.0.0", global = true)]
    pub turn_bind: IpAddr,

    /// UDP port of the TURN server; 0 picks a free one.
    #[arg(long, env = "TURN_PORT", default_value_t = 3478, global = true)]
    pub turn_port: u16,

    /// Address put in relay candidates and TURN URLs; set it to the public address when
    /// the server is behind NAT. Unset: TURN_BIND, or when that is 0.0.0.0 the address
    /// of the interface that routes to the internet (127.0.0.1 on a machine without one).
    #[arg(long, env = "TURN_PUBLIC_IP", global = true)]
    pub turn_public_ip: Option<IpAddr>,

    /// Host name in the TURN URLs handed to clients. Unset: TURN_PUBLIC_IP (or its default).
    #[arg(long, env = "TURN_HOST", global = true)]
    pub turn_host: Option<String>,

    /// Lowest UDP port for relayed traffic; 0 lets the system pick (tests).
    #[arg(long, env = "TURN_RELAY_PORT_MIN", default_value_t = 49152, global = true)]
    pub turn_relay_port_min: u16,

    /// Highest UDP port for relayed traffic.
    #[arg(long, env = "TURN_RELAY_PORT_MAX", default_value_t = 65535, global = true)]
    pub turn_relay_port_max: u16,

    /// Shared secret for TURN REST credentials (coturn's `static-auth-secret`).
    /// Unset: derived from SECRET_KEY_BASE.
    #[arg(long, env = "TURN_SECRET", hide_env_values = true, global = true)]
    pub turn_secret: Option<String>,

    /// How long handed-out TURN credentials work. Past it they refresh no allocation, and
    /// clients fetch credentials once, at `voice_joined`: a day (the TURN REST scheme's
    /// recommended lifetime) keeps calls through the relay up for as long as people talk.
    #[arg(long, env = "TURN_TTL_SECS", default_value_t = 86_400, global = true)]
    pub turn_ttl_secs: u64,

    /// TURN URLs handed to clients instead of the built-in server's, e.g. an external
    /// coturn with `use-auth-secret` (comma separated `turn:host:3478?transport=udp`).
    #[arg(long, env = "TURN_URLS", value_delimiter = ',', global = true)]
    pub turn_urls: Vec<String>,

    /// Realm of the built-in server.
    #[arg(long, env = "TURN_REALM", default_value = "cromulent", global = true)]
    pub turn_realm: String,

    /// Relay to loopback peers (127.0.0.0/8, ::1). For tests only.
    #[arg(long, env = "TURN_ALLOW_LOOPBACK_PEERS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub turn_allow_loopback_peers: bool,

    /// Relay to private and link-local peers (RFC 1918, fc00::/7, 169.254/16, fe80::/10).
    #[arg(long, env = "TURN_ALLOW_PRIVATE_PEERS", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub turn_allow_private_peers: bool,

    /// Live relay allocations per user.
    #[arg(long, env = "TURN_USER_QUOTA", default_value_t = 10, global = true)]
    pub turn_user_quota: usize,

    /// Live relay allocations on this node.
    #[arg(long, env = "TURN_TOTAL_QUOTA", default_value_t = 1000, global = true)]
    pub turn_total_quota: usize,
}

/// How voice rooms carry audio, and the selective forwarding unit (SFU) that carries it
/// for rooms too large for a mesh.
#[derive(Debug, Clone, Args)]
pub struct VoiceConfig {
    /// `auto`: rooms above VOICE_SFU_ABOVE participants go through the server's SFU and
    /// return to a mesh when they shrink below it; `mesh` or `sfu`: always that way (a
    /// channel's pinned mode still wins).
    #[arg(long, env = "VOICE_MODE", value_enum, default_value_t = VoiceModeSetting::Auto, global = true)]
    pub voice_mode: VoiceModeSetting,

    /// In `auto` mode, a join that makes a room larger than this moves it to the SFU.
    #[arg(long, env = "VOICE_SFU_ABOVE", default_value_t = 4, global = true)]
    pub voice_sfu_above: usize,

    /// Participants one voice room holds; a join past it is refused with `room_full`.
    #[arg(long, env = "VOICE_ROOM_MAX", default_value_t = 99, global = true)]
    pub voice_room_max: usize,

    /// Address the SFU's UDP socket binds.
    #[arg(long, env = "VOICE_SFU_BIND", default_value = "0.0.0.0", global = true)]
    pub voice_sfu_bind: IpAddr,

    /// The SFU's one UDP port, shared by every participant (told apart by their ICE
    /// credentials); 0 picks a free one (tests). Its public address is TURN_PUBLIC_IP's.
    #[arg(long, env = "VOICE_SFU_PORT", default_value_t = 3480, global = true)]
    pub voice_sfu_port: u16,

    /// RTP packets per second one participant may send through the SFU; more are dropped.
    /// Opus at 10 ms frames sends 100.
    #[arg(long, env = "VOICE_SFU_MAX_PACKETS_PER_SEC", default_value_t = 200, global = true)]
    pub voice_sfu_max_packets_per_sec: u32,

    /// Media bitrate (kbit/s) one participant may send through the SFU; more is dropped.
    #[arg(long, env = "VOICE_SFU_MAX_KBPS", default_value_t = 256, global = true)]
    pub voice_sfu_max_kbps: u32,

    /// How long a call in a direct message rings the other participants, in seconds.
    #[arg(long, env = "DM_CALL_RING_SECS", default_value_t = 30, global = true)]
    pub dm_call_ring_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VoiceModeSetting {
    Auto,
    Mesh,
    Sfu,
}

/// Rate limits of the HTTP API. Load tests and benchmarks raise them.
#[derive(Debug, Clone, Args)]
pub struct LimitsConfig {
    /// Failed logins (and current-password checks) per account in LOGIN_WINDOW_SECS.
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 10, global = true)]
    pub login_failures_per_account: u32,

    /// Failed logins (and current-password checks) per client address in LOGIN_WINDOW_SECS.
    #[arg(long, env = "LOGIN_FAILURES_PER_IP", default_value_t = 50, global = true)]
    pub login_failures_per_ip: u32,

    #[arg(long, env = "LOGIN_WINDOW_SECS", default_value_t = 15 * 60, global = true)]
    pub login_window_secs: u64,

    /// Account mails (confirmation, reset, change of address) to one address per hour.
    #[arg(long, env = "MAILS_PER_ADDRESS_PER_HOUR", default_value_t = 5, global = true)]
    pub mails_per_address_per_hour: u32,

    /// Email-change requests per user per hour.
    #[arg(long, env = "EMAIL_CHANGES_PER_USER_PER_HOUR", default_value_t = 5, global = true)]
    pub email_changes_per_user_per_hour: u32,

    /// Data exports (`GET /api/users/me/export`) per user per hour: each reads every
    /// message the user wrote.
    #[arg(long, env = "DATA_EXPORTS_PER_USER_PER_HOUR", default_value_t = 5, global = true)]
    pub data_exports_per_user_per_hour: u32,

    /// Registrations per client address per hour.
    #[arg(long, env = "REGISTRATIONS_PER_IP_PER_HOUR", default_value_t = 50, global = true)]
    pub registrations_per_ip_per_hour: u32,

    /// Password-reset requests and completions per client address per hour.
    #[arg(long, env = "PASSWORD_RESETS_PER_IP_PER_HOUR", default_value_t = 20, global = true)]
    pub password_resets_per_ip_per_hour: u32,

    /// Writes (POST, PUT, PATCH, DELETE) under /api per signed-in user per minute.
    #[arg(long, env = "HTTP_WRITES_PER_USER_PER_MINUTE", default_value_t = 300, global = true)]
    pub http_writes_per_user_per_minute: u32,

    /// Writes under /api per client address per minute, signed in or not.
    #[arg(long, env = "HTTP_WRITES_PER_IP_PER_MINUTE", default_value_t = 600, global = true)]
    pub http_writes_per_ip_per_minute: u32,

    /// The most accounts one invite may create (`max_uses`).
    #[arg(long, env = "INVITE_MAX_USES", default_value_t = 1000, global = true)]
    pub invite_max_uses: u32,

    /// The longest an invite may stay valid (`expires_in_secs`), in seconds: 30 days.
    #[arg(long, env = "INVITE_MAX_LIFETIME_SECS", default_value_t = 30 * 24 * 60 * 60, global = true)]
    pub invite_max_lifetime_secs: u32,

    /// The longest timeout a moderator may give (`duration_secs`), in seconds: 28 days.
    #[arg(long, env = "MODERATION_TIMEOUT_MAX_SECS", default_value_t = 28 * 24 * 60 * 60, global = true)]
    pub moderation_timeout_max_secs: u32,

    /// How far back a ban may delete the user's messages (`delete_messages_hours`): 7 days.
    #[arg(long, env = "BAN_DELETE_MESSAGES_MAX_HOURS", default_value_t = 7 * 24, global = true)]
    pub ban_delete_messages_max_hours: u32,

    /// Distinct emoji one message may carry; a new emoji past it is refused (422).
    #[arg(long, env = "REACTIONS_PER_MESSAGE_MAX", default_value_t = 20, global = true)]
    pub reactions_per_message_max: u32,

    /// Reactions added or taken back per user per minute.
    #[arg(long, env = "REACTIONS_PER_USER_PER_MINUTE", default_value_t = 60, global = true)]
    pub reactions_per_user_per_minute: u32,

    /// Searches (`GET /api/search`) per user per minute: each one reads the full-text
    /// index and ranks every match.
    #[arg(long, env = "SEARCHES_PER_USER_PER_MINUTE", default_value_t = 60, global = true)]
    pub searches_per_user_per_minute: u32,

    /// Pinned messages one channel may hold; pinning past it is refused (422).
    #[arg(long, env = "PINS_PER_CHANNEL_MAX", default_value_t = 50, global = true)]
    pub pins_per_channel_max: u32,
}

#[derive(Debug, Clone, Args)]
pub struct SmtpConfig {
    #[arg(id = "smtp_host", long = "smtp-host", env = "SMTP_HOST", global = true)]
    pub host: Option<String>,
    /// Unset: 587 for starttls, 465 for tls, 25 for none.
    #[arg(id = "smtp_port", long = "smtp-port", env = "SMTP_PORT", global = true)]
    pub port: Option<u16>,
    #[arg(id = "smtp_username", long = "smtp-username", env = "SMTP_USERNAME", global = true)]
    pub username: Option<String>,
    #[arg(
        id = "smtp_password",
        long = "smtp-password",
        env = "SMTP_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    #[arg(id = "smtp_security", long = "smtp-security", env = "SMTP_SECURITY", value_enum, default_value_t = SmtpSecurity::Starttls, global = true)]
    pub security: SmtpSecurity,
    /// The From address of every mail.
    #[arg(
        id = "smtp_from",
        long = "smtp-from",
        env = "SMTP_FROM",
        default_value = "Cromulent <cromulent@localhost>",
        global = true
    )]
    pub from: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SmtpSecurity {
    Starttls,
    Tls,
    None,
}

impl Config {
    /// A configuration with every default, rooted in `data_dir`; for tests and tools.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let cli = Cli::parse_from(["cromulent-server"]);
        Config { data_dir: data_dir.into(), ..cli.config }
    }

    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{}", self.port),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.data_dir.join("cromulent.db").display()),
        }
    }

    /// The dev mailbox shows every mail, password resets included, so it is on only when
    /// asked for or when nothing but this machine can reach the server.
    pub fn dev_mailbox(&self) -> bool {
        self.dev_mailbox.unwrap_or(self.smtp.host.is_none() && self.bind.is_loopback())
    }

    /// Served over TLS, so cookies get `Secure` and the `__Host-` prefix.
    pub fn is_https(&self) -> bool {
        self.public_url().starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn nothing_set_means_sqlite_in_the_data_dir_and_no_dev_mailbox() {
        let config = Cli::parse_from(["cromulent-server", "--data-dir", "/srv/c"]).config;
        assert!(config.database_url().starts_with("sqlite:///srv/c/cromulent.db"));
        assert_eq!(config.port, 4000);
        assert_eq!(config.public_url(), "http://localhost:4000");
        assert!(
            !config.dev_mailbox(),
            "bound to every interface, a mailbox would show reset links to anyone who can reach it"
        );
    }

    #[test]
    fn the_dev_mailbox_is_on_by_default_only_on_loopback() {
        let local = Cli::parse_from(["cromulent-server", "--bind", "127.0.0.1"]).config;
        assert!(local.dev_mailbox(), "no SMTP and only this machine can connect: show mail locally");
        let smtp = Cli::parse_from(["cromulent-server", "--bind", "::1", "--smtp-host", "mx"]).config;
        assert!(!smtp.dev_mailbox(), "with SMTP configured mail is sent, not shown");
        let asked = Cli::parse_from(["cromulent-server", "--dev-mailbox", "true"]).config;
        assert!(asked.dev_mailbox(), "an explicit DEV_MAILBOX=true wins");
    }

    #[test]
    fn trusted_proxies_must_be_networks() {
        let config = Cli::parse_from(["cromulent-server", "--trusted-proxies", "10.0.0.0/8,::1"]).config;
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(
            Cli::try_parse_from(["cromulent-server", "--trusted-proxies", "proxy.local"]).is_err(),
            "a host name is refused at start, not silently ignored"
        );
    }
}
