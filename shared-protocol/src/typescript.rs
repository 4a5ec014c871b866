//! How the workspace writes TypeScript from Rust types (feature `ts`), shared by the
//! protocol's generator and the desktop app's bridge generator: the same ts-rs settings
//! and the same check that the committed files under `desktop-ui/src/generated/` are
//! what the Rust side produces now.

use std::collections::BTreeMap;
use std::path::Path;

/// The environment variable that makes a generator rewrite its files instead of failing.
pub const UPDATE_ENV: &str = "CROMULENT_UPDATE_GENERATED";

/// ts-rs settings writing to `out_dir`: ids are strings on the wire (their own type says
/// so) and other 64-bit integers, timestamps in milliseconds, plain numbers.
pub fn config(out_dir: &Path) -> ts_rs::Config {
    ts_rs::Config::new().with_large_int("number").with_out_dir(out_dir)
}

/// Every `.ts` file under `dir`, by path relative to it, leaving out the top-level
/// folders named in `skip` (other generators own those).
pub fn read_dir(dir: &Path, skip: &[&str]) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], files: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let skipped =
                dir == root && skip.iter().any(|other| path.file_name().is_some_and(|n| n == *other));
            if path.is_dir() && !skipped {
                walk(root, &path, skip, files);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let name = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                files.insert(name, std::fs::read_to_string(&path).expect("a generated file is readable"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, skip, &mut files);
    files
}

/// Compares `fresh` (name → text) with the files in `target` (outside `skip`); with
/// [`UPDATE_ENV`] set, first rewrites `target` to match. Panics, naming the changed and
/// the no-longer-generated files and `regenerate` (the command that fixes it), when they
/// differ.
pub fn check_or_update(target: &Path, fresh: &BTreeMap<String, String>, skip: &[&str], regenerate: &str) {
    if std::env::var_os(UPDATE_ENV).is_some() {
        for stale in read_dir(target, skip).keys() {
            std::fs::remove_file(target.join(stale)).expect("remove a generated file");
        }
        for (name, text) in fresh {
            let path = target.join(name);
            std::fs::create_dir_all(path.parent().expect("inside target"))
                .expect("create a generated folder");
            std::fs::write(path, text).expect("write a generated file");
        }
    }
    let committed = read_dir(target, skip);
    let changed: Vec<&String> = fresh.keys().filter(|k| committed.get(*k) != fresh.get(*k)).collect();
    let extra: Vec<&String> = committed.keys().filter(|k| !fresh.contains_key(*k)).collect();
    assert!(
        changed.is_empty() && extra.is_empty(),
        "{} is stale (changed: {changed:?}, no longer generated: {extra:?}); regenerate with {UPDATE_ENV}=1 {regenerate}",
        target.display()
    );
}
