//! The TypeScript wire types in `desktop-ui/src/generated/` must match these Rust types.
//! Run with `--features ts`; set `CROMULENT_UPDATE_GENERATED=1` to rewrite them.
#![cfg(feature = "ts")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cromulent_protocol::constant::NamedConstant;
use cromulent_protocol::event::Event;
use cromulent_protocol::{gateway, limits, notification};
use ts_rs::Config;

// `export_every_type`: one `export_all` per type that derives `ts_rs::TS` (see build.rs).
include!(concat!(env!("OUT_DIR"), "/typescript_types.rs"));

fn generated_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../desktop-ui/src/generated")
}

/// Subfolders of the generated folder that other generators own and check: the desktop
/// app's bridge types.
const OTHER_GENERATORS: &[&str] = &["bridge"];

/// `constants.ts`: the limits, the gateway's constants and close codes, and the event
/// types this build knows (so the UI can tell an event from a newer server).
fn constants_ts() -> String {
    fn block(out: &mut String, constants: &[NamedConstant], indent: &str) {
        for c in constants {
            let doc: Vec<&str> = c.doc.lines().map(str::trim).collect();
            match doc.as_slice() {
                [] => {}
                [line] => out.push_str(&format!("{indent}/** {line} */\n")),
                lines => {
                    out.push_str(&format!("{indent}/**\n"));
                    for line in lines {
                        out.push_str(&format!("{indent} * {line}\n"));
                    }
                    out.push_str(&format!("{indent} */\n"));
                }
            }
            if indent.is_empty() {
                out.push_str(&format!("export const {} = {};\n", c.name, c.value));
            } else {
                out.push_str(&format!("{indent}{}: {},\n", c.name, c.value));
            }
        }
    }
    let mut out = String::from(
        "// Generated from cromulent-protocol's constants (limits, gateway, notification). Do not edit.\n\n",
    );
    block(&mut out, gateway::CONSTANTS, "");
    block(&mut out, limits::ALL, "");
    block(&mut out, notification::CONSTANTS, "");
    out.push_str("\n/** WebSocket close codes the server uses (4000-4999 are application codes). */\n");
    out.push_str("export const CLOSE_CODE = {\n");
    block(&mut out, gateway::close_code::ALL, "  ");
    out.push_str("} as const;\n");
    out.push_str("\n/** Every event `type` this build knows; others come from a newer server. */\n");
    out.push_str("export const EVENT_TYPES = [\n");
    for t in Event::types() {
        out.push_str(&format!("  '{t}',\n"));
    }
    out.push_str("] as const;\n");
    out
}

/// Every `.ts` file under `dir` (outside [`OTHER_GENERATORS`]), by path relative to it.
fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let owned_elsewhere = dir == root
                && OTHER_GENERATORS.iter().any(|other| path.file_name().is_some_and(|n| n == *other));
            if path.is_dir() && !owned_elsewhere {
                walk(root, &path, files);
            } else if path.extension().is_some_and(|e| e == "ts") {
                let name = path.strip_prefix(root).expect("under root").to_string_lossy().into_owned();
                files.insert(name, std::fs::read_to_string(&path).expect("readable"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

#[test]
fn generated_typescript_matches_the_rust_types() {
    let out = std::env::temp_dir().join(format!("cromulent-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    // Ids are strings and timestamps plain numbers on the wire (milliseconds fit).
    let cfg = Config::new().with_large_int("number").with_out_dir(&out);
    export_every_type(&cfg).expect("every type exports");
    std::fs::write(out.join("constants.ts"), constants_ts()).expect("write constants.ts");
    let fresh = read_dir(&out);
    let target = generated_dir();
    if std::env::var_os("CROMULENT_UPDATE_GENERATED").is_some() {
        for stale in read_dir(&target).keys() {
            std::fs::remove_file(target.join(stale)).expect("remove a generated file");
        }
        for (name, text) in &fresh {
            let path = target.join(name);
            std::fs::create_dir_all(path.parent().expect("inside target")).expect("create dir");
            std::fs::write(path, text).expect("write");
        }
    }
    let committed = read_dir(&target);
    let _ = std::fs::remove_dir_all(&out);
    let stale: Vec<&String> = fresh.keys().filter(|k| committed.get(*k) != fresh.get(*k)).collect();
    let extra: Vec<&String> = committed.keys().filter(|k| !fresh.contains_key(*k)).collect();
    assert!(
        stale.is_empty() && extra.is_empty(),
        "desktop-ui/src/generated is stale (changed: {stale:?}, no longer generated: {extra:?}); \
         regenerate with CROMULENT_UPDATE_GENERATED=1 cargo test -p cromulent-protocol --features ts"
    );
}
