//! `matthan-bench live`: what the officer sees, measured from the pixels.
//!
//! 1. **Live latency read from the picture.** 16 live simulated cameras (x264, 320×180 15 fps,
//!    no B-frames, GOP 15) burn `{"m":mount,"n":frame,"t":capture µs}` as a QR code into every
//!    picture; the server logs when each encoded frame went to the RTP payloader (`sent_us`).
//!    The real UI (`MatThanApp`, 8×8 wall) is driven offscreen at 30 UI frames per second, with
//!    16 tiles (the 16 QR cameras) and with 64 tiles (the 16 QR cameras plus 48 clip cameras
//!    `/camK/main`, 640×360 15 fps). After each UI frame, for each QR tile whose picture
//!    changed, the top-left corner of its luma plane is copied with the wall-clock time; the
//!    codes are read after the window (never on the UI loop). Latency = that wall-clock time −
//!    the server's `sent_us` for the frame named by the code. Two ways of producing a UI frame:
//!    `prepare` (egui layout + tessellation + texture uploads submitted to the GPU queue, no
//!    rasteriser: `Offscreen::prepare_frame`) and `render` (the whole frame rasterised at
//!    1920×1080 by the GPU — lavapipe here — and read back: `Offscreen::render`).
//! 2. **4K H.265 main stream.** `/uhd/main` (3840×2160 25 fps GOP 50) on the large tile of a
//!    1+7 wall beside 7 tiles of `/camK/sub` (320×180), and the same stream alone on a 1×1
//!    wall: pictures decoded / uploaded per second, dropped, the process's CPU, against
//!    `ffmpeg -threads 2 -i <the same clip> -f null -` in the same run.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use mt_capture::sim::{SimOptions, SimServer};
use mt_capture::{CameraHandle, Capture, DecodedFrame, Timeouts};
use mt_render::offscreen::Offscreen;
use mt_ui::{MatThanApp, WallLayout, WallState};

const SIZE: [u32; 2] = [1920, 1080];
const TICK: Duration = Duration::from_millis(33);
/// QR cameras on the wall (live x264 encoding is the server's expensive part).
const QR_TILES: usize = 16;

// CPU accounting shared with the other benchmarks.
use crate::measure::{camera, cpu_secs, proc_cpu_secs, thread_cpu_secs};

/// The machine's load average (1, 5, 15 min): the machine is shared, say how busy it was.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// p-quantile of `v` (sorted here), NaN when empty.
fn q(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn start_cameras(
    cap: &Capture,
    cams: Vec<mt_core::CameraConfig>,
) -> anyhow::Result<Vec<CameraHandle>> {
    cams.into_iter().map(|c| Ok(cap.start_camera(c)?)).collect()
}

/// Drives the UI until every camera shows a picture (at most `limit`), then 2 s more.
fn warm_up(off: &Offscreen, ctx: &egui::Context, app: &mut MatThanApp, limit: Duration) {
    let t = Instant::now();
    while t.elapsed() < limit && !app.cameras.iter().all(|c| c.main.latest().is_some()) {
        off.prepare_frame(ctx, SIZE, |ui| app.show(ui));
        std::thread::sleep(TICK);
    }
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(2) {
        off.prepare_frame(ctx, SIZE, |ui| app.show(ui));
        std::thread::sleep(TICK);
    }
}

/// The top-left corner of a picture's luma (where the QR code is), for reading later.
struct Crop {
    tile: usize,
    w: usize,
    h: usize,
    y: Vec<u8>,
    /// Wall clock (Unix µs) when the UI frame that draws this picture was produced.
    shown_us: i64,
    /// Wall clock (Unix µs) when the picture's last RTP packet was read (its `arrival`).
    arrival_us: i64,
    /// The picture changed between the snapshot before the UI frame and the one right after
    /// `app.show`: the frame drawn may be a newer one (this sample then over-states).
    ambiguous: bool,
}

fn crop(tile: usize, f: &DecodedFrame, shown_us: i64, ambiguous: bool) -> Crop {
    let (w, h) = (f.width as usize, f.height as usize);
    // The code is ~h/3 high at (4, 4) with its quiet zone; 0.55·h (≥ 100 px) holds it.
    let side = ((h as f64 * 0.55) as usize).max(100);
    let (cw, ch) = (side.min(w), side.min(h));
    let mut y = Vec::with_capacity(cw * ch);
    for r in 0..ch {
        y.extend_from_slice(&f.y[r * w..r * w + cw]);
    }
    let arrival_us = now_us() - f.arrival.elapsed().as_micros() as i64;
    Crop {
        tile,
        w: cw,
        h: ch,
        y,
        shown_us,
        arrival_us,
        ambiguous,
    }
}

/// (mount, frame number, capture µs) from the QR code in a crop.
fn read_code(c: &Crop) -> Option<(String, u64, i64)> {
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(c.w, c.h, |x, y| c.y[y * c.w + x]);
    img.detect_grids().into_iter().find_map(|g| {
        let (_, text) = g.decode().ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some((
            v["m"].as_str()?.to_owned(),
            v["n"].as_u64()?,
            v["t"].as_i64()?,
        ))
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Drive {
    /// `Offscreen::prepare_frame`: layout, tessellation, uploads submitted; no rasteriser.
    Prepare,
    /// `Offscreen::render`: rasterised at 1920×1080 (lavapipe) and read back.
    Render,
}

struct LiveRow {
    tiles: usize,
    drive: Drive,
    ui_fps: f64,
    frame_ms: (f64, f64),
    samples: usize,
    unreadable: usize,
    unmatched: usize,
    ambiguous: usize,
    send: (f64, f64, f64),
    send_arrival: (f64, f64),
    arrival_frame: (f64, f64, f64),
    capture: (f64, f64, f64),
    decoded_qr_fps: f64,
    dropped: u64,
    cpu_pct: f64,
    server_pct: f64,
}

fn live_window(
    off: &Offscreen,
    ctx: &egui::Context,
    app: &mut MatThanApp,
    sim: &SimServer,
    drive: Drive,
    window: Duration,
) -> anyhow::Result<LiveRow> {
    let qr: Vec<usize> = (0..QR_TILES.min(app.cameras.len())).collect();
    for c in &app.cameras {
        c.main.drain_latency_us();
    }
    let stats0: Vec<_> = app.cameras.iter().map(|c| c.main.stats()).collect();
    let mut last_seq: Vec<Option<u64>> = qr
        .iter()
        .map(|&i| app.cameras[i].main.latest().map(|f| f.seq))
        .collect();
    let mut crops: Vec<Crop> = Vec::with_capacity(qr.len() * 16 * window.as_secs() as usize);
    let mut frame_ms = Vec::new();
    let cpu0 = cpu_secs(libc::RUSAGE_SELF);
    let srv0 = proc_cpu_secs(sim.pid());
    let t0 = Instant::now();
    let mut next = Instant::now();
    let mut frames = 0u64;
    while t0.elapsed() < window {
        // Snapshot before the UI frame, and again right after `app.show` (inside it): the
        // picture a tile draws is the one `show` reads, between the two.
        let pre: Vec<Option<Arc<DecodedFrame>>> =
            qr.iter().map(|&i| app.cameras[i].main.latest()).collect();
        let mut mid: Vec<Option<u64>> = vec![None; qr.len()];
        let f0 = Instant::now();
        {
            let mut ui_fn = |ui: &mut egui::Ui| {
                app.show(ui);
                for (k, &i) in qr.iter().enumerate() {
                    mid[k] = app.cameras[i].main.latest().map(|f| f.seq);
                }
            };
            match drive {
                Drive::Prepare => drop(off.prepare_frame(ctx, SIZE, &mut ui_fn)),
                Drive::Render => drop(off.render(ctx, SIZE, &mut ui_fn)?),
            }
        }
        let shown = now_us();
        frame_ms.push(f0.elapsed().as_secs_f64() * 1e3);
        frames += 1;
        for (k, p) in pre.iter().enumerate() {
            let Some(p) = p else { continue };
            if last_seq[k] == Some(p.seq) {
                continue;
            }
            last_seq[k] = Some(p.seq);
            crops.push(crop(k, p, shown, mid[k] != Some(p.seq)));
        }
        next += TICK;
        match next.checked_duration_since(Instant::now()) {
            Some(d) => std::thread::sleep(d),
            // Behind (a slow render): do not try to catch up with a burst.
            None => next = Instant::now(),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs(libc::RUSAGE_SELF) - cpu0;
    let srv = proc_cpu_secs(sim.pid()) - srv0;
    let (mut dec_qr, mut dropped) = (0u64, 0u64);
    for (i, (c, s0)) in app.cameras.iter().zip(&stats0).enumerate() {
        let s = c.main.stats();
        dropped += s.frames_dropped - s0.frames_dropped;
        if i < qr.len() {
            dec_qr += s.frames_decoded - s0.frames_decoded;
        }
    }
    // After the window: read the codes and match them with the server's send log.
    let sent: HashMap<(String, u64), i64> = sim
        .sent()
        .into_iter()
        .map(|s| ((s.mount, s.n), s.sent_us))
        .collect();
    let (mut send, mut capture) = (Vec::new(), Vec::new());
    let (mut send_arrival, mut arrival_frame) = (Vec::new(), Vec::new());
    let (mut unreadable, mut unmatched, mut ambiguous) = (0, 0, 0);
    for c in &crops {
        let Some((m, n, t)) = read_code(c) else {
            unreadable += 1;
            continue;
        };
        if m != format!("/live/q{}", c.tile + 1) {
            unmatched += 1;
            continue;
        }
        let Some(&sent_us) = sent.get(&(m, n)) else {
            unmatched += 1;
            continue;
        };
        ambiguous += c.ambiguous as usize;
        send.push((c.shown_us - sent_us) as f64 / 1e3);
        capture.push((c.shown_us - t) as f64 / 1e3);
        send_arrival.push((c.arrival_us - sent_us) as f64 / 1e3);
        arrival_frame.push((c.shown_us - c.arrival_us) as f64 / 1e3);
    }
    let three = |v: &mut Vec<f64>| (q(v, 0.5), q(v, 0.99), q(v, 1.0));
    Ok(LiveRow {
        tiles: app.cameras.len(),
        drive,
        ui_fps: frames as f64 / secs,
        frame_ms: (q(&mut frame_ms, 0.5), q(&mut frame_ms, 0.99)),
        samples: send.len(),
        unreadable,
        unmatched,
        ambiguous,
        send: three(&mut send),
        send_arrival: (q(&mut send_arrival, 0.5), q(&mut send_arrival, 0.99)),
        arrival_frame: three(&mut arrival_frame),
        capture: three(&mut capture),
        decoded_qr_fps: dec_qr as f64 / qr.len() as f64 / secs,
        dropped,
        cpu_pct: cpu * 100.0 / secs,
        server_pct: srv * 100.0 / secs,
    })
}

fn live(
    off: &Offscreen,
    counts: &[usize],
    window: Duration,
    qr_fps: u32,
) -> anyhow::Result<Vec<LiveRow>> {
    let assets = mt_core::assets_dir();
    let spec = serde_json::json!({"source":"live","width":320,"height":180,"fps":qr_fps,"bframes":0,"gop":qr_fps});
    let mut rows = Vec::new();
    for &n in counts {
        if n < QR_TILES || n > 64 {
            bail!("--counts: each count must be 16..=64 (16 QR cameras, 8×8 wall)");
        }
        let clips = n - QR_TILES;
        let opts = SimOptions {
            mounts: (1..=QR_TILES)
                .map(|k| (format!("/live/q{k}"), spec.clone()))
                .collect(),
            large: false,
            send_log: true,
        };
        let sim = SimServer::start_with(&assets, 0, clips, &opts)?;
        let cap = Capture::new(Timeouts::default())?;
        let mut cams = Vec::new();
        for k in 1..=QR_TILES {
            cams.push(camera(&format!("q{k}"), &sim.url(&format!("live/q{k}")))?);
        }
        for k in 1..=clips {
            cams.push(camera(&format!("c{k}"), &sim.url(&format!("cam{k}/main")))?);
        }
        let handles = start_cameras(&cap, cams)?;
        let ctx = egui::Context::default();
        let tiles = (0..64)
            .map(|k| (k < n).then(|| handles[k].config.id.0.clone()))
            .collect();
        let state = WallState {
            layout: WallLayout::G8,
            tiles,
            show_health: false,
            ..Default::default()
        };
        let mut app = MatThanApp::new(&ctx, handles, state, None, vec![]);
        warm_up(off, &ctx, &mut app, Duration::from_secs(30));
        for drive in [Drive::Prepare, Drive::Render] {
            let r = live_window(off, &ctx, &mut app, &sim, drive, window)?;
            eprintln!(
                "  {n} tiles, {}: {} samples, send→frame p99 {:.1} ms; load average {}",
                drive_name(drive),
                r.samples,
                r.send.1,
                loadavg()
            );
            rows.push(r);
        }
        drop(app);
        drop(cap);
        drop(sim);
        std::thread::sleep(Duration::from_secs(1));
    }
    Ok(rows)
}

fn drive_name(d: Drive) -> &'static str {
    match d {
        Drive::Prepare => "prepare (no raster)",
        Drive::Render => "render 1920×1080 + readback",
    }
}

// ---------------------------------------------------------------------------------------------
// 4K

fn sim_cache_dir() -> std::path::PathBuf {
    std::env::var_os("MATTHAN_SIM_CACHE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/matthan-sim")
        })
}

fn uhd_clip() -> anyhow::Result<std::path::PathBuf> {
    let dir = sim_cache_dir();
    std::fs::read_dir(&dir)
        .with_context(|| dir.display().to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("uhd-main-3840x2160-") && n.ends_with(".mp4"))
        })
        .with_context(|| format!("no uhd-main clip in {}", dir.display()))
}

struct UhdBaseline {
    ms_per_frame: f64,
    frames: u64,
}

fn uhd_baseline(clip: &std::path::Path) -> anyhow::Result<UhdBaseline> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries"])
        .args(["stream=nb_frames", "-of", "csv=p=0"])
        .arg(clip)
        .output()
        .context("running ffprobe")?;
    let frames: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("ffprobe nb_frames")?;
    let mut runs = crate::measure::ffmpeg_cpu_ms_per_frame(clip, 2, 3, frames)?;
    Ok(UhdBaseline {
        ms_per_frame: q(&mut runs, 0.5),
        frames,
    })
}

struct UhdRow {
    label: &'static str,
    fps: f64,
    uploaded_fps: f64,
    received: u64,
    decoded: u64,
    dropped: u64,
    size: (u32, u32),
    arrival_upload: (f64, f64),
    ui_ms: (f64, f64),
    cpu_pct: f64,
    cpu_ms_per_pic: f64,
    server_pct: f64,
}

fn uhd_window(
    off: &Offscreen,
    sim: &SimServer,
    label: &'static str,
    layout: WallLayout,
    small: usize,
    window: Duration,
) -> anyhow::Result<UhdRow> {
    let cap = Capture::new(Timeouts::default())?;
    let mut cams = vec![camera("uhd", &sim.url("uhd/main"))?];
    for k in 1..=small {
        cams.push(camera(&format!("s{k}"), &sim.url(&format!("cam{k}/sub")))?);
    }
    let handles = start_cameras(&cap, cams)?;
    let ctx = egui::Context::default();
    let tiles = handles
        .iter()
        .map(|h| Some(h.config.id.0.clone()))
        .collect();
    let state = WallState {
        layout,
        tiles,
        show_health: false,
        ..Default::default()
    };
    let mut app = MatThanApp::new(&ctx, handles, state, None, vec![]);
    warm_up(off, &ctx, &mut app, Duration::from_secs(30));
    let big = &app.cameras[0].main;
    big.drain_latency_us();
    let s0 = big.stats();
    let up0 = big.frames_uploaded();
    let cpu0 = cpu_secs(libc::RUSAGE_SELF);
    let srv0 = proc_cpu_secs(sim.pid());
    let t0 = Instant::now();
    let mut next = Instant::now();
    let mut ui_ms = Vec::new();
    while t0.elapsed() < window {
        let u0 = thread_cpu_secs();
        off.prepare_frame(&ctx, SIZE, |ui| app.show(ui));
        ui_ms.push((thread_cpu_secs() - u0) * 1e3);
        next += TICK;
        match next.checked_duration_since(Instant::now()) {
            Some(d) => std::thread::sleep(d),
            None => next = Instant::now(),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs(libc::RUSAGE_SELF) - cpu0;
    let srv = proc_cpu_secs(sim.pid()) - srv0;
    eprintln!("  {label}: load average {}", loadavg());
    let big = &app.cameras[0].main;
    let s = big.stats();
    let uploaded = big.frames_uploaded() - up0;
    let mut au: Vec<f64> = big
        .drain_latency_us()
        .into_iter()
        .map(|u| u as f64 / 1e3)
        .collect();
    let decoded = s.frames_decoded - s0.frames_decoded;
    let row = UhdRow {
        label,
        fps: decoded as f64 / secs,
        uploaded_fps: uploaded as f64 / secs,
        received: s.frames_received - s0.frames_received,
        decoded,
        dropped: s.frames_dropped - s0.frames_dropped,
        size: (s.width, s.height),
        arrival_upload: (q(&mut au, 0.5), q(&mut au, 0.99)),
        ui_ms: (q(&mut ui_ms, 0.5), q(&mut ui_ms, 0.99)),
        cpu_pct: cpu * 100.0 / secs,
        cpu_ms_per_pic: cpu * 1e3 / decoded.max(1) as f64,
        server_pct: srv * 100.0 / secs,
    };
    drop(app);
    drop(cap);
    std::thread::sleep(Duration::from_secs(1));
    Ok(row)
}

pub fn run(
    counts: &[usize],
    window: Duration,
    live_part: bool,
    uhd_part: bool,
    qr_fps: u32,
) -> anyhow::Result<()> {
    let off = Offscreen::new()?;
    println!(
        "GPU adapter: {}; window {} s per row; UI frames at 30 Hz, 1920×1080\n",
        off.adapter_name(),
        window.as_secs()
    );
    if live_part {
        let rows = live(&off, counts, window, qr_fps)?;
        println!("Live latency read from the QR code in the picture: 16 live cameras 320×180 {qr_fps} fps x264 (no B-frames, GOP {qr_fps}) on an 8×8 wall; with 64 tiles the other 48 are /camK/main 640×360 15 fps clips.\n");
        println!("| tiles | UI frame | UI fps | UI frame wall ms p50 / p99 | samples (unreadable, unmatched, ambiguous) | send→frame p50 / p99 / max ms | send→arrival p50 / p99 ms | arrival→frame p50 / p99 / max ms | capture→frame p50 / p99 / max ms | QR tiles decoded fps/feed | dropped (all tiles) | process CPU % | server CPU % |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {} | {:.1} | {:.1} / {:.1} | {} ({}, {}, {}) | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.2} | {} | {:.0} | {:.0} |",
                r.tiles,
                drive_name(r.drive),
                r.ui_fps,
                r.frame_ms.0,
                r.frame_ms.1,
                r.samples,
                r.unreadable,
                r.unmatched,
                r.ambiguous,
                r.send.0,
                r.send.1,
                r.send.2,
                r.send_arrival.0,
                r.send_arrival.1,
                r.arrival_frame.0,
                r.arrival_frame.1,
                r.arrival_frame.2,
                r.capture.0,
                r.capture.1,
                r.capture.2,
                r.decoded_qr_fps,
                r.dropped,
                r.cpu_pct,
                r.server_pct,
            );
        }
        println!();
    }
    if uhd_part {
        let assets = mt_core::assets_dir();
        let opts = SimOptions {
            large: true,
            ..Default::default()
        };
        // Generates the large clips on first use (~25 s once).
        let sim = SimServer::start_with(&assets, 0, 7, &opts)?;
        let clip = uhd_clip()?;
        let b = uhd_baseline(&clip)?;
        let rows = vec![
            uhd_window(
                &off,
                &sim,
                "1+7: 4K main on the large tile, 7 × /camK/sub 320×180",
                WallLayout::P1_7,
                7,
                window,
            )?,
            uhd_window(
                &off,
                &sim,
                "1×1: the 4K main stream alone",
                WallLayout::G1,
                0,
                window,
            )?,
        ];
        println!(
            "4K H.265: /uhd/main 3840×2160 25 fps GOP 50. Baseline `ffmpeg -threads 2 -i {} -f null -`: {:.2} CPU ms/frame (median of 3, {} frames).\n",
            clip.display(),
            b.ms_per_frame,
            b.frames
        );
        println!("| wall | 4K decoded /s | uploaded /s | received | decoded | dropped | picture | arrival→upload p50 / p99 ms | UI CPU ms/frame p50 / p99 | process CPU % | process CPU ms per 4K picture | ratio to ffmpeg | server CPU % |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {:.2} | {:.2} | {} | {} | {} | {}×{} | {:.1} / {:.1} | {:.2} / {:.2} | {:.0} | {:.1} | {:.2} | {:.0} |",
                r.label,
                r.fps,
                r.uploaded_fps,
                r.received,
                r.decoded,
                r.dropped,
                r.size.0,
                r.size.1,
                r.arrival_upload.0,
                r.arrival_upload.1,
                r.ui_ms.0,
                r.ui_ms.1,
                r.cpu_pct,
                r.cpu_ms_per_pic,
                r.cpu_ms_per_pic / b.ms_per_frame,
                r.server_pct,
            );
        }
        drop(sim);
    }
    Ok(())
}
