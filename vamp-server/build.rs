//! Embeds the web UI's built assets (`ui/dist`, made by `npm ci && npm run build` in `ui/`) into the crate.
//!
//! Writes `$OUT_DIR/ui_assets.rs`: a slice of `Asset { path, body: include_bytes!(…), content_type }`, one per
//! file under `ui/dist`, or an empty slice when the UI has not been built — so a plain `cargo build` never needs
//! npm, and `src/api/ui.rs` then serves a page that says how to build the UI.
//!
//! Cargo reruns this script when anything under `ui/dist` changes; while `ui/dist` is missing it watches `ui/`
//! (whose contents change when the build creates `ui/dist`), because a missing path would make Cargo rerun the
//! script, and rebuild the crate, on every build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Every regular file under `dir`, sorted, so the generated file is the same for the same tree.
fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

fn main() -> std::io::Result<()> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let ui = manifest.join("ui");
    let dist = ui.join("dist");
    let mut generated = String::from("&[\n");
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
        let mut found = Vec::new();
        files(&dist, &mut found)?;
        for file in found {
            let (Ok(relative), Some(absolute)) = (file.strip_prefix(&dist), file.to_str()) else {
                println!(
                    "cargo:warning=skipping a UI asset with a non-UTF-8 path: {}",
                    file.display()
                );
                continue;
            };
            let url: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let _ = writeln!(
                generated,
                "    Asset {{ path: {:?}, body: include_bytes!({:?}), content_type: {:?} }},",
                format!("/{}", url.join("/")),
                absolute,
                content_type(&file)
            );
        }
    } else if ui.is_dir() {
        println!("cargo:rerun-if-changed={}", ui.display());
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
    generated.push_str("]\n");
    std::fs::write(out_dir.join("ui_assets.rs"), generated)
}
