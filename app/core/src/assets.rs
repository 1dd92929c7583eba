//! Where the run-time assets are (simulated cameras, clips, the demo's sites and map,
//! translations are compiled in): `$MATTHAN_ASSETS`, else `../share/matthan` beside the
//! running binary (installed: `/usr/bin/matthan` → `/usr/share/matthan`), else the source
//! tree's `assets/` (run from `target/`).

use std::path::PathBuf;

/// The assets folder (looked up once per process).
pub fn assets_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let installed = std::env::current_exe()
            .ok()
            .and_then(|e| e.canonicalize().ok())
            .and_then(|e| e.parent().map(|d| d.join("../share/matthan")))
            .filter(|d| d.join("sim").is_dir())
            .and_then(|d| d.canonicalize().ok());
        let source_tree = || {
            let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets"));
            p.canonicalize().unwrap_or(p)
        };
        std::env::var_os("MATTHAN_ASSETS")
            .map(PathBuf::from)
            .or(installed)
            .unwrap_or_else(source_tree)
    })
    .clone()
}
