//! The server's secret key base: given, or generated once and kept in the data directory.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};
use base64::Engine;
use rand::RngCore;

const FILE_NAME: &str = "secret_key_base";
const MIN_LEN: usize = 32;

/// Returns the configured secret, or the one stored in `data_dir`, creating it with
/// mode 0600 on first start.
pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        if secret.len() < MIN_LEN {
            bail!("SECRET_KEY_BASE must be at least {MIN_LEN} characters");
        }
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join(FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(stored) => {
            let stored = stored.trim();
            if stored.len() < MIN_LEN {
                bail!("{} is shorter than {MIN_LEN} characters", path.display());
            }
            return Ok(stored.as_bytes().to_vec());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    file.sync_all()?;
    tracing::info!(path = %path.display(), "generated a new secret key base");
    Ok(secret.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_secret_is_kept_private_and_reused() {
        let dir = tempdir();
        let first = load_or_create(None, &dir).expect("created");
        let second = load_or_create(None, &dir).expect("read back");
        assert_eq!(first, second, "restarts must keep the same key or every token dies");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.join(FILE_NAME)).expect("exists").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "only the server's user may read the key");
        }
    }

    #[test]
    fn a_short_configured_secret_is_refused() {
        assert!(load_or_create(Some("short"), Path::new("/nonexistent")).is_err());
    }

    fn tempdir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("cromulent-secret-{}", rand::random::<u64>()));
        fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
