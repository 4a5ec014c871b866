//! Desktop app releases this server offers to the Tauri updater, kept as files under
//! `DATA_DIR/releases/<target>/<arch>/<version>/` (a manifest, the bundle, its signature).
//!
//! Nothing here lives in the database: a release is a few large files an admin installs
//! with `cromulent-server release add <dir>`, and every node reading the same `DATA_DIR`
//! (or a copy of it) offers the same releases. Every name that becomes a path — target,
//! arch, version, bundle file — is checked against a strict pattern first, so no request
//! can reach outside the releases folder.

use std::path::{Path, PathBuf};

use base64::Engine;
use cromulent_protocol::calendar::UtcDateTime;
use cromulent_protocol::Timestamp;
use serde::{Deserialize, Serialize};

/// The manifest an admin writes next to the bundle, and the one kept with the release.
pub const MANIFEST: &str = "release.json";

/// A signature file larger than this is not a minisign signature.
const SIGNATURE_MAX_BYTES: u64 = 4096;

/// What `release add` reads from `<dir>/release.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Semantic version of the app in the bundle (`1.4.0`).
    pub version: String,
    /// The updater's `{{target}}`: `linux`, `windows`, `darwin`.
    pub target: String,
    /// The updater's `{{arch}}`: `x86_64`, `aarch64`, `i686`, `armv7`.
    pub arch: String,
    /// Shown to people before they choose to install.
    #[serde(default)]
    pub notes: String,
    /// The bundle's file name in the same folder; its signature is `<bundle>.sig`.
    pub bundle: String,
    /// RFC 3339; filled in with the time of `release add` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_date: Option<String>,
}

/// An installed release, as the update endpoint offers it.
#[derive(Debug, Clone)]
pub struct Release {
    pub manifest: Manifest,
    pub version: semver::Version,
    /// The contents of `<bundle>.sig`: base64 of a minisign signature.
    pub signature: String,
    pub bundle_path: PathBuf,
}

/// Why a name in a request or a manifest is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadName {
    /// Not a lowercase word of letters, digits, `_` and `-` (at most 32).
    #[error("{what} must be 1-32 lowercase letters, digits, '_' or '-'")]
    Word { what: &'static str },
    /// Not a semantic version written the canonical way (`1.2.3`, `1.2.3-beta.1`).
    #[error("the version must be a semantic version such as 1.2.3")]
    Version,
    /// A bundle name that is empty, hidden, too long or holds a path separator.
    #[error("the bundle must be a plain file name in the release folder")]
    FileName,
}

/// Why `release add` refused a release; nothing was installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid release manifest: {source}")]
    Manifest { path: PathBuf, source: serde_json::Error },
    #[error("{0}")]
    Name(#[from] BadName),
    #[error("the bundle {0} is missing")]
    MissingBundle(PathBuf),
    #[error("the signature {0} is missing: sign the bundle (tauri signer sign) first")]
    MissingSignature(PathBuf),
    #[error("the signature {path} is not a minisign signature in base64 ({why})")]
    BadSignature { path: PathBuf, why: &'static str },
    #[error("the signature was made for version {signed}, but the manifest says {manifest}")]
    SignedVersionMismatch { signed: String, manifest: String },
    #[error("pub_date {0} is not an RFC 3339 date")]
    PubDate(String),
    #[error("version {version} for {target}/{arch} is already installed")]
    AlreadyInstalled { target: String, arch: String, version: String },
    #[error("cannot install into {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A target or arch: what the updater puts in `{{target}}` / `{{arch}}`.
pub fn word(raw: &str, what: &'static str) -> Result<String, BadName> {
    let ok = (1..=32).contains(&raw.len())
        && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && raw.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(BadName::Word { what })
    }
}

/// A version; only the canonical spelling, so each release has exactly one folder name.
pub fn version(raw: &str) -> Result<semver::Version, BadName> {
    match semver::Version::parse(raw) {
        Ok(v) if v.to_string() == raw => Ok(v),
        _ => Err(BadName::Version),
    }
}

fn file_name(raw: &str) -> Result<(), BadName> {
    let ok = !raw.is_empty()
        && raw.len() <= 200
        && !raw.starts_with('.')
        && !raw.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(BadName::FileName)
    }
}

/// The releases folder of one server.
#[derive(Debug, Clone)]
pub struct Releases {
    root: PathBuf,
}

impl Releases {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("releases") }
    }

    /// The newest release for this target and arch that is newer than `current`, if any.
    /// Never an older or equal one: the updater is never offered a downgrade.
    pub async fn newer_than(&self, target: &str, arch: &str, current: &semver::Version) -> Option<Release> {
        let dir = self.root.join(target).join(arch);
        let mut entries = tokio::fs::read_dir(&dir).await.ok()?;
        let mut best: Option<semver::Version> = None;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let Some(candidate) = entry.file_name().to_str().and_then(|n| version(n).ok()) else {
                continue;
            };
            if candidate > *current && best.as_ref().is_none_or(|b| candidate > *b) {
                best = Some(candidate);
            }
        }
        self.installed(target, arch, &best?).await
    }

    /// One installed release; `None` when it is absent or its files are incomplete.
    pub async fn installed(&self, target: &str, arch: &str, version: &semver::Version) -> Option<Release> {
        let dir = self.root.join(target).join(arch).join(version.to_string());
        let raw = tokio::fs::read(dir.join(MANIFEST)).await.ok()?;
        let manifest: Manifest = serde_json::from_slice(&raw).ok()?;
        file_name(&manifest.bundle).ok()?;
        let bundle_path = dir.join(&manifest.bundle);
        let signature = tokio::fs::read_to_string(dir.join(format!("{}.sig", manifest.bundle))).await.ok()?;
        tokio::fs::metadata(&bundle_path).await.ok().filter(|m| m.is_file())?;
        Some(Release {
            manifest,
            version: version.clone(),
            signature: signature.trim().to_owned(),
            bundle_path,
        })
    }

    /// Every installed release, for `release list`.
    pub fn list(&self) -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        for target in read_names(&self.root) {
            for arch in read_names(&self.root.join(&target)) {
                for version in read_names(&self.root.join(&target).join(&arch)) {
                    found.push((target.clone(), arch.clone(), version));
                }
            }
        }
        found.sort();
        found
    }

    /// Checks the release in `source` and copies it in. The copy goes to a hidden
    /// folder first and is renamed into place, so the endpoint never sees half a release.
    pub fn add(&self, source: &Path, now: Timestamp) -> Result<Manifest, AddError> {
        let manifest_path = source.join(MANIFEST);
        let raw = std::fs::read(&manifest_path)
            .map_err(|e| AddError::Read { path: manifest_path.clone(), source: e })?;
        let mut manifest: Manifest = serde_json::from_slice(&raw)
            .map_err(|e| AddError::Manifest { path: manifest_path, source: e })?;
        let target = word(&manifest.target, "target")?;
        let arch = word(&manifest.arch, "arch")?;
        version(&manifest.version)?;
        file_name(&manifest.bundle)?;
        let bundle = source.join(&manifest.bundle);
        if !bundle.is_file() {
            return Err(AddError::MissingBundle(bundle));
        }
        let sig_name = format!("{}.sig", manifest.bundle);
        let sig_path = source.join(&sig_name);
        if !sig_path.is_file() {
            return Err(AddError::MissingSignature(sig_path));
        }
        check_signature(&sig_path, &manifest.version)?;
        match &manifest.pub_date {
            Some(date) if !looks_like_rfc3339(date) => return Err(AddError::PubDate(date.clone())),
            Some(_) => {}
            None => manifest.pub_date = Some(UtcDateTime::from_timestamp(now).rfc3339()),
        }

        let parent = self.root.join(&target).join(&arch);
        let dest = parent.join(&manifest.version);
        if dest.exists() {
            return Err(AddError::AlreadyInstalled { target, arch, version: manifest.version.clone() });
        }
        std::fs::create_dir_all(&parent).map_err(write_error(&parent))?;
        let staging = parent.join(format!(".incoming-{}-{}", manifest.version, std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging).map_err(write_error(&staging))?;
        let files = Files { bundle: &bundle, signature: &sig_path, manifest: &manifest };
        let staged = stage(&staging, &dest, files);
        if staged.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
        staged.map(|()| manifest)
    }
}

/// `cromulent-server release …`.
pub fn run_command(
    config: &crate::config::Config,
    command: crate::config::ReleaseCommand,
) -> anyhow::Result<()> {
    let releases = Releases::new(&config.data_dir);
    match command {
        crate::config::ReleaseCommand::Add { dir } => {
            let m = releases.add(&dir, crate::ids::now_ms())?;
            println!("installed {} {}/{} ({})", m.version, m.target, m.arch, m.bundle);
        }
        crate::config::ReleaseCommand::List => {
            for (target, arch, version) in releases.list() {
                println!("{target}/{arch} {version}");
            }
        }
    }
    Ok(())
}

/// What `release add` copies in.
struct Files<'a> {
    bundle: &'a Path,
    signature: &'a Path,
    manifest: &'a Manifest,
}

/// Copies the release into `staging`, then renames it to `dest` in one step.
fn stage(staging: &Path, dest: &Path, files: Files<'_>) -> Result<(), AddError> {
    let bundle_name = &files.manifest.bundle;
    std::fs::copy(files.bundle, staging.join(bundle_name)).map_err(write_error(files.bundle))?;
    let sig_name = format!("{bundle_name}.sig");
    std::fs::copy(files.signature, staging.join(sig_name)).map_err(write_error(files.signature))?;
    let json = serde_json::to_vec_pretty(files.manifest).expect("a manifest serializes");
    std::fs::write(staging.join(MANIFEST), json).map_err(write_error(staging))?;
    std::fs::rename(staging, dest).map_err(write_error(dest))
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> AddError + '_ {
    move |source| AddError::Write { path: path.to_owned(), source }
}

fn read_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default()
}

/// The `.sig` the Tauri signer writes: base64 of a four-line minisign signature. When
/// its trusted comment names the version it was signed for, that must be the manifest's
/// (the app refuses a mismatch anyway; better to learn it at install time).
fn check_signature(path: &Path, manifest_version: &str) -> Result<(), AddError> {
    let bad = |why| AddError::BadSignature { path: path.to_owned(), why };
    let size =
        std::fs::metadata(path).map_err(|e| AddError::Read { path: path.to_owned(), source: e })?.len();
    if size > SIGNATURE_MAX_BYTES {
        return Err(bad("too large"));
    }
    let raw = std::fs::read_to_string(path).map_err(|_| bad("not text"))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let decoded = b64.decode(raw.trim()).map_err(|_| bad("not base64"))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("not text inside"))?;
    let lines: Vec<&str> = text.lines().collect();
    let &[untrusted, signature, trusted, global] = lines.as_slice() else {
        return Err(bad("not four lines"));
    };
    let decodes_to = |line: &str, len| b64.decode(line.trim()).is_ok_and(|bytes| bytes.len() == len);
    // Algorithm (2) + key id (8) + Ed25519 signature (64); the global signature is 64.
    if !untrusted.starts_with("untrusted comment:") || !decodes_to(signature, 74) || !decodes_to(global, 64) {
        return Err(bad("malformed"));
    }
    let comment = trusted.strip_prefix("trusted comment:").ok_or_else(|| bad("no trusted comment"))?;
    let signed = comment.trim().split('\t').find_map(|field| field.strip_prefix("version:"));
    match signed {
        Some(signed) if signed != manifest_version => Err(AddError::SignedVersionMismatch {
            signed: signed.to_owned(),
            manifest: manifest_version.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Enough of RFC 3339 to catch a date written some other way (`2026-12-07T20:00:00Z`).
fn looks_like_rfc3339(date: &str) -> bool {
    let b = date.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && [0..4, 5..7, 8..10, 11..13, 14..16, 17..19]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_folder_are_refused() {
        for bad in ["../1.0.0", "1.0.0/..", "..", "v1.0.0", "1.0", "1.0.0 ", "01.0.0"] {
            assert_eq!(version(bad), Err(BadName::Version), "{bad:?} is not a canonical version");
        }
        for bad in ["", "..", "a/b", "Linux", "-x", &"a".repeat(33)] {
            assert!(word(bad, "target").is_err(), "{bad:?} is not a target name");
        }
        for bad in ["", ".sig", "a/b", "a\\b", "x\n"] {
            assert!(file_name(bad).is_err(), "{bad:?} is not a plain file name");
        }
        assert!(version("1.2.3-beta.1").is_ok() && word("x86_64", "arch").is_ok());
    }

    #[test]
    fn dates_are_utc_rfc3339() {
        assert!(looks_like_rfc3339(&UtcDateTime::from_timestamp(1_796_676_422_000).rfc3339()));
        assert!(!looks_like_rfc3339("07/12/2026"));
    }
}
