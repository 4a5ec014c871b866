//! Throwaway PostgreSQL databases on the test server, one per server under test.

use sqlx::{Connection, Executor};

use crate::unique_name;

/// The superuser URL of the test PostgreSQL server: `CROMULENT_TEST_PG_URL`, else the
/// local default that scripts/test.sh starts.
pub fn pg_admin_url() -> String {
    std::env::var("CROMULENT_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database, dropped (with any connections still open to it) when this is.
#[derive(Debug)]
pub struct PgDatabase {
    pub name: String,
    /// The URL a server connects with.
    pub url: String,
    admin_url: String,
    keep: bool,
}

impl PgDatabase {
    /// A fresh database on the server at `CROMULENT_TEST_PG_URL`.
    pub async fn create() -> Self {
        Self::create_on(pg_admin_url())
            .await
            .expect("PostgreSQL must be reachable at CROMULENT_TEST_PG_URL (scripts/test.sh starts it)")
    }

    /// A fresh database on the server `admin_url` points at (a superuser's URL, with or
    /// without a database in its path).
    pub async fn create_on(admin_url: String) -> Result<Self, sqlx::Error> {
        let name = unique_name("cromulent_test");
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        conn.execute(&*format!("CREATE DATABASE {name}")).await?;
        conn.close().await?;
        let url = format!("{}/{name}", server_part(&admin_url));
        Ok(PgDatabase { name, url, admin_url, keep: false })
    }

    /// Leaves the database in place when this is dropped (to look at after a run).
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async; a short-lived runtime on its own thread does the work.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = conn.execute(&*format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

/// `postgres://user@host:port` of a URL that may name a database after it.
fn server_part(url: &str) -> &str {
    let authority = url.find("://").map_or(0, |at| at + 3);
    match url[authority..].find(['/', '?']) {
        Some(end) => &url[..authority + end],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::server_part;

    #[test]
    fn a_database_url_is_built_on_the_server_part_of_the_admin_url() {
        assert_eq!(
            server_part("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432"
        );
        assert_eq!(
            server_part("postgres://postgres@127.0.0.1:5432"),
            "postgres://postgres@127.0.0.1:5432",
            "the load generators' default names no database"
        );
        assert_eq!(server_part("postgres://pg@db:5432?sslmode=disable"), "postgres://pg@db:5432");
    }
}
