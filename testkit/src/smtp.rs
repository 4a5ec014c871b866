//! A real SMTP server on loopback (Python's aiosmtpd, `scripts/smtp_sink.py`) that keeps
//! every mail it receives as a file, for tests of mail that leaves the server.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::storage::TempDir;

/// The SMTP sink, stopped when dropped. Its Python comes from `CROMULENT_TEST_PYTHON`
/// (else `python3`), which must have aiosmtpd.
pub struct SmtpSink {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let dir = TempDir::new();
        let python = std::env::var("CROMULENT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/smtp_sink.py");
        let mut child = Command::new(python)
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", "0", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 with aiosmtpd runs the SMTP sink (scripts/test.sh installs it)");
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the sink starts in time")
            .expect("reads")
            .expect("prints READY");
        let port = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()).expect("READY <port>");
        SmtpSink { child, port, dir }
    }

    /// The port it accepts mail on, at 127.0.0.1, without TLS.
    pub fn port(&self) -> u16 {
        self.port
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

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
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
