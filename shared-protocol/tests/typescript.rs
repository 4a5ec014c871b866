//! The TypeScript wire types in `desktop-ui/src/generated/` must match these Rust types.
//! Run with `--features ts`; set `CROMULENT_UPDATE_GENERATED=1` to rewrite them.
#![cfg(feature = "ts")]

use std::path::{Path, PathBuf};

use cromulent_protocol::constant::NamedConstant;
use cromulent_protocol::event::Event;
use cromulent_protocol::{dm, gateway, limits, moderation, notification, typescript};

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
        "// Generated from cromulent-protocol's constants (limits, gateway, notification, moderation, dm). Do not edit.\n\n",
    );
    block(&mut out, gateway::CONSTANTS, "");
    block(&mut out, limits::ALL, "");
    block(&mut out, notification::CONSTANTS, "");
    block(&mut out, moderation::CONSTANTS, "");
    block(&mut out, dm::CONSTANTS, "");
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

#[test]
fn generated_typescript_matches_the_rust_types() {
    let out = std::env::temp_dir().join(format!("cromulent-ts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    export_every_type(&typescript::config(&out)).expect("every type exports");
    std::fs::write(out.join("constants.ts"), constants_ts()).expect("write constants.ts");
    let fresh = typescript::read_dir(&out, &[]);
    let _ = std::fs::remove_dir_all(&out);
    typescript::check_or_update(
        &generated_dir(),
        &fresh,
        OTHER_GENERATORS,
        "cargo test -p cromulent-protocol --features ts",
    );
}
