//! Where a server under test keeps its data: a scratch directory, and a database.

use std::path::{Path, PathBuf};

use crate::postgres::PgDatabase;
use crate::unique_name;

/// Which database a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Database {
    /// A file in the server's data directory.
    Sqlite,
    /// A fresh database of its own on the test PostgreSQL server.
    Postgres,
}

/// A scratch directory, removed with everything in it when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new directory under the system's temporary directory.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(unique_name("cromulent-test"));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create the scratch directory {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Leaves the directory in place (to look at after a run) and returns its path.
    pub fn keep(self) -> PathBuf {
        let this = std::mem::ManuallyDrop::new(self);
        this.0.clone()
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Everything one server stores, gone when dropped: its data directory and, on
/// PostgreSQL, its database.
#[derive(Debug)]
pub struct Storage {
    pub dir: TempDir,
    pub postgres: Option<PgDatabase>,
}

impl Storage {
    /// A fresh data directory and, for [`Database::Postgres`], a fresh database on the
    /// server at `CROMULENT_TEST_PG_URL`.
    pub async fn new(database: Database) -> Self {
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create().await),
        };
        Storage { dir: TempDir::new(), postgres }
    }

    /// Like [`Storage::new`] with the database created through `admin_url` (a
    /// superuser's URL, with or without a database), for callers that report errors
    /// rather than panic.
    pub async fn create_on(database: Database, admin_url: &str) -> Result<Self, sqlx::Error> {
        let postgres = match database {
            Database::Sqlite => None,
            Database::Postgres => Some(PgDatabase::create_on(admin_url.to_owned()).await?),
        };
        Ok(Storage { dir: TempDir::new(), postgres })
    }

    /// The `DATABASE_URL` for the server: `None` means SQLite in the data directory.
    pub fn database_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|pg| pg.url.as_str())
    }
}
