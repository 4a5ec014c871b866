//! A loopback server written in Python, one of the project's `scripts/`: started on a
//! port the system picks, which it reports on its first line as `READY <port>`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The running script; killed when dropped.
pub(crate) struct PythonServer {
    _child: Child,
    pub port: u16,
}

impl PythonServer {
    /// Runs `scripts/<script> --host 127.0.0.1 --port 0 <args>` with the Python named by
    /// `CROMULENT_TEST_PYTHON` (else `python3`); `needs` names the Python packages it
    /// imports, for the message when it cannot start.
    pub async fn start(script: &str, args: &[&OsStr], needs: &str) -> Self {
        let python = std::env::var("CROMULENT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts").join(script);
        let mut child = Command::new(python)
            .arg(path)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("python3 with {needs} runs {script} (scripts/test.sh installs it): {e}")
            });
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        // Importing moto takes seconds on a loaded machine.
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{script} starts within 30 s"))
            .expect("reads its output")
            .unwrap_or_else(|| {
                panic!("{script} exited before READY: is {needs} installed for CROMULENT_TEST_PYTHON?")
            });
        let port = line
            .strip_prefix("READY ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("{script} said {line:?}, not READY <port>"));
        PythonServer { _child: child, port }
    }
}
