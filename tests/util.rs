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

/// What a simulated camera burned into a picture (assets/sim/rtsp_server.py, `qroverlay`):
/// the mount, the frame number and the capture time on the server's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub mount: String,
    pub n: u64,
    /// Capture time, Unix µs.
    pub t_us: i64,
}

impl Stamp {
    pub fn t_ms(&self) -> i64 {
        self.t_us.div_euclid(1000)
    }
}

/// Reads the QR code in the top-left part of a decoded picture's luma (what the tile is given
/// to draw). None when there is no readable code.
pub fn read_stamp(f: &mt_capture::DecodedFrame) -> Option<Stamp> {
    // The code sits in the top-left corner; reading only that region keeps this fast.
    let (w, h) = (f.width as usize, f.height as usize);
    let (rw, rh) = ((w * 3 / 5).max(1), (h * 4 / 5).max(1));
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(rw, rh, |x, y| f.y[y * w + x]);
    for g in img.detect_grids() {
        if let Ok((_, text)) = g.decode() {
            if let Some(s) = parse_stamp(&text) {
                return Some(s);
            }
        }
    }
    None
}

pub fn parse_stamp(text: &str) -> Option<Stamp> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(Stamp {
        mount: v["m"].as_str()?.to_owned(),
        n: v["n"].as_u64()?,
        t_us: v["t"].as_i64()?,
    })
}

/// Reads the stamp from a PNG still (a bookmark's snapshot, what the officer keeps).
pub fn read_stamp_png(png: &[u8]) -> Option<Stamp> {
    let img = image::load_from_memory(png).ok()?.to_luma8();
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (rw, rh) = ((w * 3 / 5).max(1), (h * 4 / 5).max(1));
    let mut p = rqrr::PreparedImage::prepare_from_greyscale(rw, rh, |x, y| {
        img.get_pixel(x as u32, y as u32)[0]
    });
    p.detect_grids()
        .into_iter()
        .find_map(|g| g.decode().ok().and_then(|(_, t)| parse_stamp(&t)))
}

/// A test that cannot run here. Under CI (`CI` set, as `.ci/run` runs) that is a failure —
/// CI has `../shared`, root and tmpfs, so a skip there would hide a broken setup; elsewhere
/// (a developer's machine without them, see the README) it says so and the test returns.
pub fn cannot_run(why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("this test cannot run under CI: {why}");
    }
    eprintln!("SKIPPED (allowed outside CI, see README \"Tests\"): {why}");
}

/// A log at `db` with a supervisor gs01 (PIN 135790) and, added by them, an operator
/// `operator` with PIN `pin`.
pub fn supervisor_and_operator(db: &std::path::Path, operator: &str, pin: &str) -> mt_store::Db {
    let mut d = log_with_supervisor(db);
    d.add_operator(
        Some(mt_store::By::Officer("gs01")),
        operator,
        "Lê Thị Hoa",
        mt_store::Role::Operator,
        pin,
    )
    .unwrap();
    d
}

/// A log at `db` with a supervisor gs01 (PIN 135790).
pub fn log_with_supervisor(db: &std::path::Path) -> mt_store::Db {
    let mut d = mt_store::Db::open(db).unwrap();
    d.add_operator(
        None,
        "gs01",
        "Trần Văn Giám",
        mt_store::Role::Supervisor,
        "135790",
    )
    .unwrap();
    d
}

/// Every QR code readable in `area` of the rendered window, scaled up twice first (a tile's
/// code has modules of 2–3 pixels): (mount, the code's rectangle on screen in points).
pub fn code_rects_in(
    h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>,
    area: egui::Rect,
) -> Vec<(String, egui::Rect)> {
    let img = h.render().expect("wgpu render");
    let luma = image::DynamicImage::ImageRgba8(img).to_luma8();
    let luma = image::imageops::crop_imm(
        &luma,
        area.min.x as u32,
        area.min.y as u32,
        area.width() as u32,
        area.height() as u32,
    )
    .to_image();
    // As rendered, then scaled up twice (a small tile's code has modules of 2–3 pixels).
    for scale in [1u32, 2] {
        let img = image::imageops::resize(
            &luma,
            luma.width() * scale,
            luma.height() * scale,
            image::imageops::FilterType::Nearest,
        );
        let (w, hh) = (img.width() as usize, img.height() as usize);
        let mut p = rqrr::PreparedImage::prepare_from_greyscale(w, hh, |x, y| {
            img.get_pixel(x as u32, y as u32)[0]
        });
        let found: Vec<(String, egui::Rect)> = p
            .detect_grids()
            .into_iter()
            .filter_map(|g| {
                let at =
                    |b: &rqrr::Point| area.min + egui::vec2(b.x as f32, b.y as f32) / scale as f32;
                let r = egui::Rect::from_points(&g.bounds.iter().map(at).collect::<Vec<_>>());
                let (_, text) = g.decode().ok()?;
                Some((parse_stamp(&text)?.mount, r))
            })
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// What `code_rects_in` finds, as (mount, left edge, width).
pub fn codes_in(
    h: &mut egui_kittest::Harness<'static, mt_ui::MatThanApp>,
    area: egui::Rect,
) -> Vec<(String, f32, f32)> {
    code_rects_in(h, area)
        .into_iter()
        .map(|(m, r)| (m, r.min.x, r.width()))
        .collect()
}

/// Runs the `matthan` binary with `args`, `stdin` written to it and `env` set: its exit
/// code, standard output and standard error.
pub fn run_matthan(args: &[&str], stdin: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("matthan runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
