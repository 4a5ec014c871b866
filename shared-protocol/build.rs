//! Lists every type in this crate that derives `ts_rs::TS`, for the TypeScript export
//! (`tests/typescript.rs` includes the list). Deriving the trait is what puts a type into
//! `desktop-ui/src/generated/`; there is no second list to forget it in.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // Read when the script runs, not baked in when it is compiled: cargo shares a
    // compiled build script between checkouts of the workspace at other paths (one
    // target directory), and a baked-in path would read another checkout's sources.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let src = Path::new(&manifest_dir).join("src");
    println!("cargo:rerun-if-changed={}", src.display());
    let mut modules: Vec<_> = std::fs::read_dir(&src)
        .expect("src is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .collect();
    modules.sort();
    let mut calls = String::new();
    for path in modules {
        let module = path.file_stem().expect("a file name").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("a readable source file");
        for name in typescript_types(&text) {
            let path = if module == "lib" { name } else { format!("{module}::{name}") };
            writeln!(calls, "    <cromulent_protocol::{path} as ts_rs::TS>::export_all(cfg)?;")
                .expect("write");
        }
    }
    let function = format!(
        "/// Exports every type of the crate that derives `ts_rs::TS` (written by build.rs).\n\
         fn export_every_type(cfg: &ts_rs::Config) -> Result<(), ts_rs::ExportError> {{\n{calls}    Ok(())\n}}\n"
    );
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("typescript_types.rs");
    std::fs::write(out, function).expect("OUT_DIR is writable");
}

/// Names of the top-level `pub struct`/`pub enum` items whose attributes derive `ts_rs::TS`.
fn typescript_types(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut derives_ts = false;
    for line in source.lines() {
        let line = line.trim_end();
        if line.starts_with("#[") && line.contains("ts_rs::TS") {
            derives_ts = true;
        } else if let Some(item) = line.strip_prefix("pub struct ").or_else(|| line.strip_prefix("pub enum "))
        {
            if derives_ts {
                let name: String = item.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                names.push(name);
            }
            derives_ts = false;
        } else if !line.starts_with("#[") && !line.starts_with("///") && !line.starts_with("    ") {
            // Anything but attributes, doc comments and attribute continuations ends
            // the attribute block.
            derives_ts = false;
        }
    }
    names
}
