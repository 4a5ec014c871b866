//! Every query the server runs, one module per table family, on SQLite or PostgreSQL.
//!
//! Queries are written once in the SQL both databases share and run through sqlx's
//! `Any` driver. Their quirks are absorbed here: flags are stored as 0/1 integers (the
//! `Any` driver cannot read SQLite booleans), times as Unix milliseconds, and SQLite
//! write transactions start with `BEGIN IMMEDIATE` so a transaction that reads before it
//! writes waits for the lock instead of failing with "database is locked".
//! Query functions take an executor or a connection, so a handler can run several in
//! one transaction.

pub mod account_deletion;
pub mod account_export;
pub mod attachments;
pub mod audit_log;
pub mod blocks;
pub mod channels;
pub mod dms;
pub mod failure;
pub mod feature_flags;
pub mod groups;
pub mod invites;
pub mod mail_tokens;
pub mod memberships;
pub mod messages;
pub mod moderation;
pub mod notification_settings;
pub mod notifications;
pub mod pins;
pub mod reactions;
pub mod read_states;
pub mod search;
pub mod sessions;
pub mod users;
pub mod voice_privacy;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Row};

pub use failure::{Failure, Unique};
pub use sqlx::AnyConnection as Conn;

pub type Tx = sqlx::Transaction<'static, Any>;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// How long a SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The connection pool and which database is behind it.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
    #[error("connecting to the database")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl Db {
    pub async fn connect(url: &str, pool_size: u32) -> Result<Self, ConnectError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
        let options = AnyConnectOptions::from_str(url).map_err(ConnectError::Connect)?;
        let pool = AnyPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer. FULL sync makes
                        // every acknowledged commit survive a power cut too, not only a
                        // process crash: an acknowledged message is never lost.
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = FULL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute(&*format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(ConnectError::Connect)?;
        Ok(Self { pool, backend })
    }

    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(ConnectError::Migrate)
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A transaction that will write: on SQLite it takes the write lock up front.
    pub async fn begin_write(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// True when the database answers a trivial query.
    pub async fn is_reachable(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a 0/1 flag column.
pub(crate) fn flag(row: &AnyRow, column: &str) -> sqlx::Result<bool> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// Writes a flag column.
pub(crate) fn flag_value(value: bool) -> i32 {
    i32::from(value)
}

/// True when the error is a unique-constraint violation, whatever the database.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}
