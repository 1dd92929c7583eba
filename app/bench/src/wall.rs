//! `matthan-bench wall`: N simulated cameras (640×360, 15 fps H.264) from GStreamer's RTSP
//! server through receive + decode + upload, for each N; ratios against the FFmpeg CLI
//! decoding the same clip, measured in the same run (the machines are shared and noisy).

use std::time::{Duration, Instant};

use anyhow::Context as _;
use mt_capture::sim::SimServer;
use mt_capture::{Capture, Timeouts};
use mt_ui::{MatThanApp, WallLayout, WallState};

use crate::measure::*;

struct Baseline {
    cli_ms_per_frame: f64,
    inproc_ms_per_frame: f64,
    frames: usize,
}

fn baseline(clip: &std::path::Path) -> anyhow::Result<Baseline> {
    let data = std::fs::read(clip).with_context(|| clip.display().to_string())?;
    let aus = access_units(&data);
    let frames = aus.len();
    // FFmpeg CLI, single-threaded decode, 5 runs; CPU time of the children.
    let mut cli = ffmpeg_cpu_ms_per_frame(clip, 1, 5, frames as u64)?;
    cli.sort_by(f64::total_cmp);
    // In-process libavcodec on the same access units (no network).
    let mut inproc = Vec::new();
    for _ in 0..5 {
        let mut dec = mt_capture::decode::Decoder::new(mt_capture::decode::Codec::H264)?;
        let t0 = thread_cpu_secs();
        let mut n = 0;
        for au in &aus {
            dec.decode(au, 0, Instant::now(), |_| n += 1)?;
        }
        inproc.push((thread_cpu_secs() - t0) * 1000.0 / n.max(1) as f64);
    }
    inproc.sort_by(f64::total_cmp);
    Ok(Baseline {
        cli_ms_per_frame: cli[2],
        inproc_ms_per_frame: inproc[2],
        frames,
    })
}

pub fn run(counts: &[usize], window: Duration) -> anyhow::Result<()> {
    let assets = mt_core::assets_dir();
    let clip = assets.join("clips/scene1-main.h264");
    let b = baseline(&clip)?;
    println!(
        "Baseline on {} ({} frames, 640×360 H.264 High, GOP 15):",
        clip.display(),
        b.frames
    );
    println!(
        "  ffmpeg -threads 1 -i clip -f null -   : {:.3} CPU ms/frame (median of 5)",
        b.cli_ms_per_frame
    );
    println!(
        "  in-process libavcodec, same frames   : {:.3} CPU ms/frame (median of 5)\n",
        b.inproc_ms_per_frame
    );

    let off = mt_render::offscreen::Offscreen::new()?;
    println!(
        "GPU adapter: {}; window {} s per N\n",
        off.adapter_name(),
        window.as_secs()
    );
    println!("| N | CPU ms/frame | ratio to CLI | fps/feed | received | decoded | dropped | arrival→upload p50 / p99 ms | RSS MB (Δ per feed) | UI CPU ms/wall frame (p50 / p99) | of which MatThanApp::show (p50 / p99) | floor: no new pictures (p50 / p99, uploads) | server CPU % |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in counts {
        let rss0 = rss_mb("VmRSS:");
        let sim = SimServer::start(&assets, 0, n)?;
        let cap = Capture::new(Timeouts::default())?;
        let mut handles = Vec::new();
        for k in 1..=n {
            let cfg = camera(&format!("b{k}"), &sim.url(&format!("cam{k}/main")))?;
            handles.push(cap.start_camera(cfg)?);
        }
        let ctx = egui::Context::default();
        let tiles = (0..64)
            .map(|k| (k < n).then(|| format!("b{}", k + 1)))
            .collect();
        let state = WallState {
            layout: WallLayout::G8,
            tiles,
            show_health: false,
            ..Default::default()
        };
        let mut app = MatThanApp::new(&ctx, handles, state, None, vec![]);
        let size = [1920, 1080];
        let tick = Duration::from_millis(33);
        // Warm up until every feed shows a picture (at most 30 s), then measure.
        let t_warm = Instant::now();
        while t_warm.elapsed() < Duration::from_secs(30)
            && !app.cameras.iter().all(|c| c.main.latest().is_some())
        {
            off.prepare_frame(&ctx, size, |ui| app.show(ui));
            std::thread::sleep(tick);
        }
        std::thread::sleep(Duration::from_secs(2));
        for c in &app.cameras {
            c.main.drain_latency_us();
        }
        let stats0: Vec<_> = app.cameras.iter().map(|c| c.main.stats()).collect();
        let cpu0 = cpu_secs(libc::RUSAGE_SELF);
        let srv0 = proc_cpu_secs(sim.pid());
        let t0 = Instant::now();
        let mut ui_ms = Vec::new();
        // Of each UI frame: the app's own code (`MatThanApp::show`: layout of every panel and
        // tile), the rest being tessellation, buffer updates, submit and poll.
        let mut show_ms = Vec::new();
        let mut parts: Vec<Vec<(&'static str, Duration)>> = Vec::new();
        let mut frame_parts: Vec<Vec<(&'static str, Duration)>> = Vec::new();
        let mut next = Instant::now();
        while t0.elapsed() < window {
            let u0 = thread_cpu_secs();
            let mut show = 0.0;
            let times = off.prepare_frame(&ctx, size, |ui| {
                let s0 = thread_cpu_secs();
                app.show(ui);
                show = thread_cpu_secs() - s0;
            });
            ui_ms.push(((thread_cpu_secs() - u0) * 1e6) as u32);
            show_ms.push((show * 1e6) as u32);
            parts.push(app.frame_parts());
            frame_parts.push(times.parts.to_vec());
            next += tick;
            if let Some(d) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_secs(libc::RUSAGE_SELF) - cpu0;
        let srv = proc_cpu_secs(sim.pid()) - srv0;
        let (mut recv, mut dec, mut dropped) = (0u64, 0u64, 0u64);
        let mut lat = Vec::new();
        for (c, s0) in app.cameras.iter().zip(&stats0) {
            let s = c.main.stats();
            recv += s.frames_received - s0.frames_received;
            dec += s.frames_decoded - s0.frames_decoded;
            dropped += s.frames_dropped - s0.frames_dropped;
            lat.extend(c.main.drain_latency_us());
        }
        let rss = rss_mb("VmRSS:");
        let slowest = slowest_parts(&show_ms, &parts);
        let slowest_frames = slowest_parts(&ui_ms, &frame_parts);
        // After every number above is taken: the floor pauses the server.
        let (mut floor_ms, floor_uploads) = floor(&off, &ctx, &mut app, sim.pid(), size, tick);
        let ms_per_frame = cpu * 1000.0 / dec.max(1) as f64;
        println!(
            "| {n} | {:.3} | {:.2} | {:.2} | {recv} | {dec} | {dropped} | {:.1} / {:.1} | {:.0} ({:.1}) | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2}, {floor_uploads} | {:.0} |",
            ms_per_frame,
            ms_per_frame / b.cli_ms_per_frame,
            dec as f64 / n as f64 / secs,
            percentile(&mut lat, 0.5),
            percentile(&mut lat, 0.99),
            rss,
            (rss - rss0) / n as f64,
            percentile(&mut ui_ms, 0.5),
            percentile(&mut ui_ms, 0.99),
            percentile(&mut show_ms, 0.5),
            percentile(&mut show_ms, 0.99),
            percentile(&mut floor_ms, 0.5),
            percentile(&mut floor_ms, 0.99),
            srv * 100.0 / secs,
        );
        eprintln!(
            "N = {n}: the slowest 1 % of MatThanApp::show frames, mean wall ms per part: {slowest}"
        );
        eprintln!(
            "N = {n}: the slowest 1 % of UI frames (CPU), mean wall ms per part: {slowest_frames}"
        );
        drop(app);
        drop(cap);
        drop(sim);
        std::thread::sleep(Duration::from_secs(1));
    }
    println!("\nPeak RSS of the whole run: {:.0} MB", rss_mb("VmHWM:"));
    Ok(())
}

/// The floor of the same run: the same wall, the same video callbacks, no new pictures. The
/// RTSP server is paused (SIGSTOP) for 2 s at a time — under the 2.5 s after which a stream
/// counts as stalled, so every tile still shows its last picture — and UI frames are measured
/// from 0.6 s (the decoders' queues drained) to 2 s, six times. Returns the UI thread's CPU
/// per frame (µs) and the pictures uploaded meanwhile (≈ 0: nothing new to show).
fn floor(
    off: &mt_render::offscreen::Offscreen,
    ctx: &egui::Context,
    app: &mut MatThanApp,
    server: u32,
    size: [u32; 2],
    tick: Duration,
) -> (Vec<u32>, u64) {
    let uploads = || {
        off.state
            .renderer
            .read()
            .callback_resources
            .get::<mt_render::VideoRenderer>()
            .map(|r| r.uploads())
            .unwrap_or(0)
    };
    let mut ms = Vec::new();
    let mut uploaded = 0;
    for _ in 0..6 {
        // SAFETY: kill only sends a signal to the server process we started.
        unsafe { libc::kill(server as i32, libc::SIGSTOP) };
        let t = Instant::now();
        let mut u0 = None;
        while t.elapsed() < Duration::from_millis(2_000) {
            let measured = t.elapsed() >= Duration::from_millis(600);
            if measured && u0.is_none() {
                u0 = Some(uploads());
            }
            let c0 = thread_cpu_secs();
            off.prepare_frame(ctx, size, |ui| app.show(ui));
            if measured {
                ms.push(((thread_cpu_secs() - c0) * 1e6) as u32);
            }
            std::thread::sleep(tick);
        }
        uploaded += uploads() - u0.unwrap_or(0);
        unsafe { libc::kill(server as i32, libc::SIGCONT) };
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(3) {
            off.prepare_frame(ctx, size, |ui| app.show(ui));
            std::thread::sleep(tick);
        }
    }
    (ms, uploaded)
}

/// `matthan-bench textures`: GPU texture memory while an officer switches 50 times between
/// live, playback and replay. Each playback or replay is a new player, so a new stream (a
/// new id) with pictures of its own size; the live stream stays. The renderer's plane bytes
/// and the process's RSS are printed after every 10 switches: flat when the textures of
/// closed players are freed.
pub fn textures(switches: usize) -> anyhow::Result<()> {
    use std::sync::Arc;
    let off = mt_render::offscreen::Offscreen::new()?;
    let ctx = egui::Context::default();
    let clip = mt_core::assets_dir().join("clips/scene1-main.h264");
    let data = std::fs::read(&clip).with_context(|| clip.display().to_string())?;
    let mut pictures = Vec::new();
    let mut dec = mt_capture::decode::Decoder::new(mt_capture::decode::Codec::H264)?;
    for au in access_units(&data).into_iter().take(30) {
        dec.decode(au, 0, Instant::now(), |f| pictures.push(f))?;
    }
    anyhow::ensure!(
        !pictures.is_empty(),
        "no picture decoded from {}",
        clip.display()
    );
    let show = |slots: &[&Arc<mt_media::FrameSlot>]| {
        off.render(&ctx, [640, 360], |ui| {
            for s in slots {
                let r = ui.max_rect();
                ui.painter().add(egui_wgpu::Callback::new_paint_callback(
                    r,
                    mt_render::VideoCallback {
                        source: (*s).clone(),
                        crop: None,
                    },
                ));
            }
        })
    };
    let held = || {
        let r = off.state.renderer.read();
        let v = r
            .callback_resources
            .get::<mt_render::VideoRenderer>()
            .expect("renderer installed");
        (v.picture_count(), v.texture_bytes())
    };
    let live = mt_media::FrameSlot::new();
    live.publish(pictures[0].clone());
    println!(
        "GPU adapter: {}; {switches} switches, picture {}×{}\n",
        off.adapter_name(),
        pictures[0].width,
        pictures[0].height
    );
    println!("| after switches | streams with textures | plane bytes | RSS MB |");
    println!("|---|---|---|---|");
    let report = |k: usize| {
        let (n, b) = held();
        println!("| {k} | {n} | {b} | {:.0} |", rss_mb("VmRSS:"));
    };
    report(0);
    for k in 1..=switches {
        // Live, then a playback or a replay (a new stream each time) for a second.
        show(&[&live])?;
        let player = mt_media::FrameSlot::new();
        let t = Instant::now();
        let mut i = 0;
        while t.elapsed() < Duration::from_secs(1) {
            let mut f = (*pictures[i % pictures.len()]).clone();
            f.seq = i as u64;
            player.publish(Arc::new(f));
            show(&[&live, &player])?;
            i += 1;
            std::thread::sleep(Duration::from_millis(40));
        }
        drop(player);
        if k % 10 == 0 {
            // The upload thread frees a closed player's textures within a second.
            std::thread::sleep(Duration::from_millis(1_200));
            report(k);
        }
    }
    Ok(())
}

/// The mean wall time of each part of the frames whose `MatThanApp::show` CPU time is in the
/// top 1 % (where the p99 comes from).
fn slowest_parts(show_us: &[u32], parts: &[Vec<(&'static str, Duration)>]) -> String {
    let mut sorted: Vec<u32> = show_us.to_vec();
    sorted.sort_unstable();
    let Some(&cut) = sorted.get(sorted.len().saturating_sub(1) * 99 / 100) else {
        return String::new();
    };
    let slow: Vec<&Vec<(&'static str, Duration)>> = show_us
        .iter()
        .zip(parts)
        .filter(|(us, _)| **us >= cut)
        .map(|(_, p)| p)
        .collect();
    let Some(first) = slow.first() else {
        return String::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(k, (name, _))| {
            let ms: f64 = slow
                .iter()
                .filter_map(|p| p.get(k))
                .map(|(_, d)| d.as_secs_f64() * 1e3)
                .sum::<f64>()
                / slow.len() as f64;
            format!("{name} {ms:.2}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
