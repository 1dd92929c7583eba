//! `matthan-bench search`: the region search's three costs, each against a baseline measured
//! in the same run (machines are shared and noisy).
//!
//! 1. Index search over a generated motion index (16 cameras × 7 days of one-minute
//!    segments, a sample a second, motion along "streets" busier by day): one region over all
//!    cameras, against reading every sample of the same index.
//! 2. The index's cost while recording 16 simulated 1080p cameras: the recorder's CPU with
//!    and without it, and the time its own threads spent on it.
//! 3. Deep scan of an hour of 1920×1080 25 fps H.264 (GOP 50): the keyframe pass, and full
//!    decoding of 10 candidate minutes, against `ffmpeg -threads 2 … -f null -`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mt_record::motion::{Region, Sample, CELLS, GRID_H, GRID_W};
use mt_record::search::{search, Event, Piece, Query, Source};
use mt_record::{Index, Segment};

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// One camera-day of samples, a sample a second: events moving along the camera's streets.
fn gen_segment(
    rng: &mut fastrand::Rng,
    streets: &[((f32, f32), (f32, f32))],
    start_ms: i64,
    busy: bool,
) -> Vec<Sample> {
    let mut out: Vec<Sample> = (0..60)
        .map(|k| Sample {
            t_ms: start_ms + k * 1000 + 1000,
            lag_ms: 1000,
            cells: Vec::new(),
        })
        .collect();
    let rate = if busy { 2.0 } else { 0.2 };
    let n = (0..8).filter(|_| rng.f32() < rate / 8.0).count();
    for _ in 0..n {
        let ((x0, y0), (x1, y1)) = streets[rng.usize(..streets.len())];
        let (s, d) = (rng.usize(..60), rng.usize(3..15));
        for k in s..(s + d).min(60) {
            let f = (k - s) as f32 / d as f32;
            let (cx, cy) = ((x0 + (x1 - x0) * f) as i32, (y0 + (y1 - y0) * f) as i32);
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let (x, y) = (cx + dx, cy + dy);
                    if (0..GRID_W as i32).contains(&x) && (0..GRID_H as i32).contains(&y) {
                        out[k]
                            .cells
                            .push(((y as usize * GRID_W + x as usize) as u16, rng.u8(90..=255)));
                    }
                }
            }
        }
    }
    for s in &mut out {
        if rng.f32() < 0.05 {
            s.cells.push((rng.u16(..CELLS as u16), rng.u8(20..40)));
        }
        s.cells.sort_by_key(|c| c.0);
        s.cells.dedup_by_key(|c| c.0);
    }
    out
}

fn index_bench(root: &Path, cameras: usize, days: i64, queries: usize) -> anyhow::Result<()> {
    let dir = root.join("index");
    std::fs::create_dir_all(&dir)?;
    let index = Index::open(&dir.join("index.db"))?;
    let t0 = mt_record::now_ms() - days * 86_400_000;
    let t0 = t0 - t0.rem_euclid(60_000);
    let mut rng = fastrand::Rng::with_seed(7);
    let t = Instant::now();
    let mut samples_n = 0u64;
    index.connection().execute_batch("BEGIN")?;
    for c in 0..cameras {
        let cam = format!("cam-{c:02}");
        let streets: Vec<_> = (0..3)
            .map(|_| {
                (
                    (rng.f32() * GRID_W as f32, rng.f32() * GRID_H as f32),
                    (rng.f32() * GRID_W as f32, rng.f32() * GRID_H as f32),
                )
            })
            .collect();
        for m in 0..days * 1440 {
            let start = t0 + m * 60_000;
            let hour = ((start / 3_600_000) + 7).rem_euclid(24);
            let seg = Segment {
                id: 0,
                camera_id: cam.clone(),
                start_ms: start,
                end_ms: start + 60_000,
                frames: 1500,
                bytes: 0,
                file: format!("{cam}/{start}.mp4"),
                sha256: String::new(),
                run_start_ms: t0,
                end_reason: None,
                end_detail: String::new(),
                codec: "H.264".into(),
                width: 1920,
                height: 1080,
            };
            let samples = gen_segment(&mut rng, &streets, start, (7..21).contains(&hour));
            samples_n += samples.len() as u64;
            index.insert_recorded(&seg, &[], Some((&samples, 0)))?;
        }
    }
    index.connection().execute_batch("COMMIT")?;
    let gen_s = t.elapsed().as_secs_f64();
    let db_mb = std::fs::metadata(dir.join("index.db"))?.len() as f64 / 1e6;
    let index = parking_lot::Mutex::new(index);
    let cams: Vec<String> = (0..cameras).map(|c| format!("cam-{c:02}")).collect();
    let (from, to) = (t0, t0 + days * 86_400_000);
    let cancel = AtomicBool::new(false);
    let mut lat = Vec::new();
    let mut naive = Vec::new();
    let mut windows = 0usize;
    for qn in 0..queries {
        let (w, h) = (0.1 + rng.f32() * 0.4, 0.1 + rng.f32() * 0.4);
        let region = Region::rect(rng.f32() * (1.0 - w), rng.f32() * (1.0 - h), w, h)?;
        let t = Instant::now();
        // The cameras on two threads (this machine's cores), as independent searches.
        let found = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| -> anyhow::Result<()> {
            let hs: Vec<_> = cams
                .chunks(cams.len().div_ceil(2).max(1))
                .map(|part| {
                    let (dir, cancel, region, found) = (&dir, &cancel, &region, &found);
                    sc.spawn(move || -> anyhow::Result<()> {
                        // Its own connection: SQLite's WAL lets readers run side by side.
                        let index = parking_lot::Mutex::new(Index::open(&dir.join("index.db"))?);
                        let index = &index;
                        for cam in part {
                            let q = Query {
                                camera: cam.clone(),
                                region: region.clone(),
                                from_ms: from,
                                to_ms: to,
                                sensitivity: 0.5,
                                deep: false,
                                confirm: false,
                            };
                            search(&q, &Source::Recording { index, dir }, cancel, &mut |e| {
                                if let Event::Hit(_) = e {
                                    found.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            })?;
                        }
                        Ok(())
                    })
                })
                .collect();
            for h in hs {
                h.join().expect("search thread")?;
            }
            Ok(())
        })?;
        windows += found.into_inner();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        // Baseline: every sample of every segment read and tested, no masks.
        if qn % 4 == 0 {
            let thr = mt_record::motion::threshold(0.5);
            let t = Instant::now();
            let mut hits = 0usize;
            let idx = index.lock();
            for cam in &cams {
                for row in idx.motion_rows(cam, from, to)? {
                    hits += idx
                        .motion_samples(&row)?
                        .iter()
                        .filter(|s| region.score(s) >= thr)
                        .count();
                }
            }
            std::hint::black_box(hits);
            naive.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    println!(
        "generated index: {cameras} cameras × {days} days = {} segments, {samples_n} samples, {db_mb:.0} MB, in {gen_s:.1} s",
        cameras as i64 * days * 1440
    );
    println!();
    println!("| index search, one region over {cameras} cameras × {days} days ({queries} random regions) | p50 ms | p99 ms | ratio (p50) |");
    println!("|---|---|---|---|");
    let n50 = pct(&mut naive, 0.5);
    println!(
        "| every sample read and tested (baseline) | {n50:.0} | {:.0} | 1 |",
        pct(&mut naive, 0.99)
    );
    let l50 = pct(&mut lat, 0.5);
    println!(
        "| region search, index stage (per camera: its week of motion rows, the cells of the region) | {l50:.1} | {:.1} | {:.3} |",
        pct(&mut lat, 0.99),
        l50 / n50
    );
    println!(
        "({} candidate windows per query on average)",
        windows / queries.max(1)
    );
    println!();
    Ok(())
}

/// A 1920×1080 25 fps H.264 clip (GOP 50) of `secs` seconds; raw Annex B with AUDs when
/// `annexb`, else MP4.
fn make_1080p(out: &Path, secs: u32, annexb: bool) -> anyhow::Result<()> {
    let mut c = Command::new("ffmpeg");
    c.args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=1920x1080:rate=25:duration={secs}"))
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "50",
            "-bf",
            "2",
            "-b:v",
            "2M",
        ]);
    if annexb {
        c.args(["-x264-params", "aud=1"]);
    }
    let st = c.arg(out).status().context("ffmpeg")?;
    if !st.success() {
        bail!("ffmpeg could not make {}", out.display());
    }
    Ok(())
}

fn recording_bench(root: &Path, cameras: usize, secs: u64) -> anyhow::Result<()> {
    let clip = root.join("cam1080.h264");
    make_1080p(&clip, 10, true)?;
    let mounts: Vec<(String, serde_json::Value)> = (0..cameras)
        .map(|k| {
            (
                format!("/hd{k}/main"),
                serde_json::json!({"source": "clip", "file": clip.display().to_string()}),
            )
        })
        .collect();
    let opts = mt_capture::sim::SimOptions {
        mounts: mounts.clone(),
        large: false,
        send_log: false,
    };
    let sim = mt_capture::sim::SimServer::start_with(&mt_core::assets_dir(), 0, 1, &opts)?;
    let cap = mt_capture::Capture::new(mt_capture::Timeouts::default())?;
    let mut handles = Vec::new();
    for (k, (path, _)) in mounts.iter().enumerate() {
        let cfg = crate::measure::camera(&format!("hd{k}"), &sim.url(path))?;
        handles.push(cap.start_camera(cfg)?);
    }
    std::thread::sleep(Duration::from_secs(3));
    let mut rows = Vec::new();
    for motion in [false, true, false, true] {
        let dir = root.join(format!("rec-{motion}-{}", rows.len()));
        let mut cfg = mt_record::RecConfig::new(dir);
        cfg.motion_index = motion;
        let (mut rec, _) = mt_record::Recorder::start(cfg)?;
        for h in &handles {
            rec.add(&h.config.id.0, &h.main)?;
        }
        std::thread::sleep(Duration::from_secs(2));
        let c0 = crate::measure::cpu_secs(libc::RUSAGE_SELF);
        let b0: f64 = rec
            .status()
            .cameras
            .values()
            .map(|c| c.motion_busy.as_secs_f64())
            .sum();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let cpu = crate::measure::cpu_secs(libc::RUSAGE_SELF) - c0;
        let st = rec.status();
        let busy: f64 = st
            .cameras
            .values()
            .map(|c| c.motion_busy.as_secs_f64())
            .sum::<f64>()
            - b0;
        let samples: u64 = st.cameras.values().map(|c| c.motion_samples).sum();
        let wall = t.elapsed().as_secs_f64();
        rec.stop();
        rows.push((motion, cpu / wall * 100.0, busy / wall * 100.0, samples));
    }
    drop(handles);
    drop(sim);
    let off: Vec<f64> = rows.iter().filter(|r| !r.0).map(|r| r.1).collect();
    let on: Vec<f64> = rows.iter().filter(|r| r.0).map(|r| r.1).collect();
    let busy: Vec<f64> = rows.iter().filter(|r| r.0).map(|r| r.2).collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!("| recording {cameras} cameras 1920×1080 25 fps H.264 (GOP 50), {secs} s × 2 each | CPU, % of one core | ratio |");
    println!("|---|---|---|");
    println!(
        "| receive + record, no motion index (baseline) | {:.1} | 1 |",
        mean(&off)
    );
    println!(
        "| receive + record + motion index | {:.1} | {:.2} |",
        mean(&on),
        mean(&on) / mean(&off)
    );
    println!(
        "| of which the motion index's own threads (keyframe decode + grid) | {:.1} | |",
        mean(&busy)
    );
    println!(
        "(the machine has {} cores; samples taken: {:?})",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        rows.iter().map(|r| r.3).collect::<Vec<_>>()
    );
    println!();
    Ok(())
}

fn ffmpeg_secs(args: &[&str], file: &Path, extra: &[&str]) -> anyhow::Result<f64> {
    let t = Instant::now();
    let st = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error"])
        .args(args)
        .arg("-i")
        .arg(file)
        .args(extra)
        .args(["-f", "null", "-"])
        .status()?;
    if !st.success() {
        bail!("ffmpeg failed");
    }
    Ok(t.elapsed().as_secs_f64())
}

fn deep_bench(root: &Path, minutes: i64) -> anyhow::Result<()> {
    let minute = root.join("minute.mp4");
    make_1080p(&minute, 60, false)?;
    let list = root.join("list.txt");
    std::fs::write(
        &list,
        (0..minutes)
            .map(|_| format!("file '{}'\n", minute.display()))
            .collect::<String>(),
    )?;
    let hour = root.join("hour.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "concat", "-safe", "0", "-i"])
        .arg(&list)
        .args(["-c", "copy"])
        .arg(&hour)
        .status()?;
    if !st.success() {
        bail!("ffmpeg concat failed");
    }
    let start = mt_record::now_ms() - minutes * 60_000 - 60_000;
    let piece = Piece {
        path: hour.clone(),
        start_ms: start,
        end_ms: start + minutes * 60_000,
        motion: None,
    };
    let cancel = AtomicBool::new(false);
    let chunk = 10 * 60_000;
    let jobs: Vec<(&Piece, i64, i64)> = (0..minutes * 60_000 / chunk)
        .map(|k| (&piece, start + k * chunk, start + (k + 1) * chunk))
        .collect();
    let mut key_s = Vec::new();
    let mut keys = 0;
    for _ in 0..2 {
        let t = Instant::now();
        let (k, errors) = mt_record::search::scan_keyframes(&jobs, &cancel, &mut |_| {});
        key_s.push(t.elapsed().as_secs_f64());
        if !errors.is_empty() {
            bail!("deep scan: {errors:?}");
        }
        keys = k.iter().map(|c| c.len()).sum::<usize>();
    }
    let ff_key = ffmpeg_secs(&["-threads", "2", "-skip_frame", "nokey"], &hour, &[])?;
    // Full decoding of 10 candidate minutes spread over the hour.
    let region = Region::rect(0.3, 0.3, 0.4, 0.4)?;
    let thr = mt_record::motion::threshold(0.5);
    let mut stats = mt_record::search::Stats::default();
    let t = Instant::now();
    for k in 0..10 {
        let a = start + (k * minutes / 10) * 60_000 + 5_000;
        mt_record::search::confirm(&[&piece], &region, thr, a, a + 60_000, &cancel, &mut stats)?;
    }
    let confirm_s = t.elapsed().as_secs_f64();
    let ff_full = ffmpeg_secs(&["-threads", "2"], &hour, &["-t", "600"])?;
    let real = (minutes * 60) as f64;
    let k = pct(&mut key_s, 0.0);
    println!("| deep scan, {minutes} min of 1920×1080 25 fps H.264 (GOP 50), 2 cores | s | × real time | ratio |");
    println!("|---|---|---|---|");
    println!("| `ffmpeg -threads 2 -skip_frame nokey -i … -f null -` (baseline) | {ff_key:.1} | {:.0} | 1 |", real / ff_key);
    println!(
        "| keyframe pass ({keys} keyframes, worker threads) | {k:.1} | {:.0} | {:.2} |",
        real / k,
        k / ff_key
    );
    println!("| `ffmpeg -threads 2 -i … -t 600 -f null -`: 10 min decoded in full (baseline) | {ff_full:.1} | {:.0} | 1 |", 600.0 / ff_full);
    println!("| full-frame confirmation of 10 candidate minutes ({} frames) | {confirm_s:.1} | {:.0} | {:.2} |", stats.frames_decoded, 600.0 / confirm_s, confirm_s / ff_full);
    println!();
    Ok(())
}

pub fn run(
    cameras: usize,
    days: i64,
    queries: usize,
    record_secs: u64,
    minutes: i64,
    dir: Option<PathBuf>,
    only: Option<String>,
) -> anyhow::Result<()> {
    let part = |p: &str| only.as_deref().is_none_or(|o| o == p);
    let root = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("matthan-bench-search-{}", std::process::id()))
    });
    std::fs::create_dir_all(&root)?;
    let r = (|| {
        if part("index") {
            index_bench(&root, cameras, days, queries)?;
        }
        if part("record") {
            recording_bench(&root, cameras, record_secs)?;
        }
        if part("deep") {
            deep_bench(&root, minutes)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&root);
    r
}
