//! Tests that need an environment of their own (a private keyring session, a private
//! D-Bus) run themselves again inside it: the test starts its own binary under a wrapper
//! command (`keyctl session -`, `dbus-run-session --`, `env …`) with only itself
//! selected, and the child, seeing the marker variable, does the work.

use std::process::Command;

/// Set in the re-run child, so it runs the test body instead of re-running again.
const INSIDE: &str = "CROMULENT_TEST_INSIDE";

/// True in the re-run child, which should do the work. Otherwise runs the test `name`
/// of the module `module` (pass `module_path!()`) again under `wrapper` with `env` added,
/// asserts that it passed, and returns false.
pub fn inside(module: &str, name: &str, wrapper: &[&str], env: &[(&str, String)]) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    // The test harness names a test by its path below the crate: `<module>::<test>`.
    let module = module.split_once("::").map_or("", |(_crate, module)| module);
    let test = if module.is_empty() { name.to_owned() } else { format!("{module}::{name}") };
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(wrapper[0])
        .args(&wrapper[1..])
        .arg(exe)
        .args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", wrapper[0]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the test inside {wrapper:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    false
}
