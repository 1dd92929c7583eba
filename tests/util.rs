//! Shared helpers for the integration tests.

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn assets() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/assets"))
}

/// Polls `f` every 20 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<(T, Duration)> {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some((v, t0.elapsed()));
        }
        if t0.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A camera config for `url` (no sub stream), parsed through the real config parser.
pub fn camera(id: &str, url: &str, extra: &str) -> mt_core::CameraConfig {
    let text = format!("[[camera]]\nid = \"{id}\"\nname = \"Camera {id}\"\nward = \"Xuân Đỉnh\"\nlat = 21.07\nlon = 105.79\nmain_url = \"{url}\"\n{extra}\n");
    let f = mt_core::parse_cameras("test.toml", &text).expect("valid TOML");
    assert!(f.errors.is_empty(), "{:?}", f.errors);
    f.cameras.into_iter().next().expect("one camera")
}
