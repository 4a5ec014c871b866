//! A real SMTP server on loopback (Python's aiosmtpd, `scripts/smtp_sink.py`) that keeps
//! every mail it receives as a file, for tests of mail that leaves the server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::python_server::PythonServer;
use crate::storage::TempDir;

/// The SMTP sink, stopped when dropped. Its Python comes from `CROMULENT_TEST_PYTHON`
/// (else `python3`), which must have aiosmtpd.
pub struct SmtpSink {
    server: PythonServer,
    dir: TempDir,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let dir = TempDir::new();
        let server =
            PythonServer::start("smtp_sink.py", &["--dir".as_ref(), dir.path().as_os_str()], "aiosmtpd")
                .await;
        SmtpSink { server, dir }
    }

    /// The port it accepts mail on, at 127.0.0.1, without TLS.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Waits for a mail whose envelope goes to `to`; returns its raw text.
    pub async fn wait_for(&self, to: &str, containing: &str) -> String {
        for _ in 0..100 {
            for path in mails(self.dir.path()) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.contains(&format!("X-Envelope-To: {to}")) && text.contains(containing) {
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no mail to {to} containing {containing:?}");
    }
}

/// The mails received so far, oldest first (the sink numbers its files).
fn mails(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}
