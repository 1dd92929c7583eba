//! `matthan-bench evidence`: export of 4 cameras × N minutes against cp + sha256sum, and seeks
//! in a one-hour recording.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context as _};

use crate::measure::*;

/// Writes `secs` of a camera's recording (15 fps, one-minute segments) as the recorder would,
/// faster than real time, and indexes it.
pub(crate) fn synth_recording(
    dir: &std::path::Path,
    index: &mt_record::Index,
    camera: &str,
    start_ms: i64,
    secs: u64,
    aus: &[(Vec<u8>, bool)],
) -> anyhow::Result<()> {
    let cam_dir = dir.join(camera);
    std::fs::create_dir_all(&cam_dir)?;
    let frames = secs * 15;
    let mut w: Option<mt_record::mp4::SegmentWriter> = None;
    let finish = |w: mt_record::mp4::SegmentWriter| -> anyhow::Result<()> {
        let partial = w.path.clone();
        let w = w.finish()?;
        let done = partial.with_extension("");
        std::fs::rename(&partial, &done)?;
        let bytes = std::fs::metadata(&done)?.len();
        index.insert(&mt_record::Segment {
            id: 0,
            camera_id: camera.to_owned(),
            start_ms: w.start_ms,
            end_ms: w.end_ms,
            frames: w.frames,
            bytes: bytes as i64,
            file: done.strip_prefix(dir)?.display().to_string(),
            sha256: mt_record::recorder::sha256_file(&done)?,
            run_start_ms: start_ms,
            codec: "H.264".into(),
            width: 640,
            height: 360,
            ..Default::default()
        })?;
        Ok(())
    };
    for i in 0..frames {
        let (au, key) = &aus[(i as usize) % aus.len()];
        let p = mt_capture::RecPacket {
            data: au.clone(),
            keyframe: *key,
            codec: mt_capture::decode::Codec::H264,
            pts_90k: i as i64 * 6000,
            wall_us: (start_ms + i as i64 * 1000 / 15) * 1000,
            session: 1,
            width: 640,
            height: 360,
            new_parameters: false,
            loss: 0,
            jumped: false,
            clock_step_us: None,
        };
        if *key && w.as_ref().is_some_and(|w| w.elapsed_s() >= 60.0) {
            finish(w.take().expect("checked"))?;
        }
        match w.as_mut() {
            Some(w) => w.push(p)?,
            None => {
                let path = cam_dir.join(format!("{}.mp4.partial", p.wall_us / 1000));
                w = Some(mt_record::mp4::SegmentWriter::create(
                    &path,
                    p,
                    Some(start_ms),
                )?);
            }
        }
    }
    if let Some(w) = w {
        finish(w)?;
    }
    Ok(())
}

/// `matthan-bench evidence`: export of 4 cameras × N minutes against `cp` + `sha256sum` of the
/// same bytes, and seeking in a one-hour recording, both in this run.
pub fn evidence(minutes: u64, seeks: usize) -> anyhow::Result<()> {
    let root = std::env::temp_dir().join(format!("matthan-bench-evidence-{}", std::process::id()));
    let rec = root.join("rec");
    std::fs::create_dir_all(&rec)?;
    let clip = mt_core::assets_dir().join("clips/scene1-main.h264");
    let aus =
        keyed_access_units(&std::fs::read(&clip).with_context(|| clip.display().to_string())?);
    let index = mt_record::Index::open(&rec.join("index.db"))?;
    let t0 = mt_record::now_ms() - 2 * 3_600_000;
    let t = Instant::now();
    let cams: Vec<String> = (1..=4).map(|k| format!("cam-{k}")).collect();
    for c in &cams {
        synth_recording(&rec, &index, c, t0, minutes * 60, &aus)?;
    }
    synth_recording(&rec, &index, "hour", t0, 3600, &aus)?;
    let synth_s = t.elapsed().as_secs_f64();
    let segs: Vec<mt_record::Segment> = index
        .all()?
        .into_iter()
        .filter(|s| s.camera_id != "hour")
        .collect();
    let bytes: i64 = segs.iter().map(|s| s.bytes).sum();
    let index = std::sync::Arc::new(parking_lot::Mutex::new(index));
    let key = ed25519_dalek_key();
    let req = mt_record::export::ExportRequest {
        cameras: cams.clone(),
        from_ms: t0,
        to_ms: t0 + minutes as i64 * 60_000,
        operator: "bench".into(),
        workstation: "bench".into(),
        ..Default::default()
    };
    let _ = (&req, &key);
    // The export runs as `matthan export` in a child process, so its peak resident memory is
    // the exporting process's own (wait4's ru_maxrss), as an officer's shell would run it.
    let db = root.join("log.db");
    let mut log = mt_store::Db::open(&db)?;
    if log.operator_count()? == 0 {
        log.add_operator(None, "bench", "Bench", mt_store::Role::Supervisor, "246802")?;
    }
    drop(log);
    let exe = matthan_exe()?;
    let mut export_s = Vec::new();
    let mut export_rss_mb = Vec::new();
    let mut base_s = Vec::new();
    for run in 0..3 {
        let out = root.join(format!("export-{run}.zip"));
        let t = Instant::now();
        let child = Command::new(&exe)
            .arg("export")
            .arg("--cameras-ids")
            .arg(cams.join(","))
            .arg("--from-ms")
            .arg(t0.to_string())
            .arg("--to-ms")
            .arg((t0 + minutes as i64 * 60_000).to_string())
            .args(["--operator", "bench", "--out"])
            .arg(&out)
            .arg("--db")
            .arg(&db)
            .arg("--rec-dir")
            .arg(&rec)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let (ok, maxrss_kb) = wait_with_rusage(child.id())?;
        export_s.push(t.elapsed().as_secs_f64());
        export_rss_mb.push(maxrss_kb as f64 / 1024.0);
        if !ok {
            bail!("matthan export failed");
        }
        let own = mt_record::keys::load(&mt_record::keys::key_path(&db))?
            .context("the export made the workstation key")?;
        let rep = mt_record::verify::verify_trusting(&out, &[*own.verifying_key().as_bytes()]);
        if !rep.ok() {
            bail!("export did not verify: {:?}", rep.problems);
        }
        std::fs::remove_file(&out)?;
        // Baseline: copy the same segment files and hash the copies.
        let copy = root.join(format!("copy-{run}"));
        std::fs::create_dir_all(&copy)?;
        let dirs: Vec<std::path::PathBuf> = cams.iter().map(|c| rec.join(c)).collect();
        let t = Instant::now();
        let st = Command::new("cp")
            .arg("-r")
            .args(&dirs)
            .arg(&copy)
            .status()?;
        let copies: Vec<std::path::PathBuf> = std::fs::read_dir(&copy)?
            .flatten()
            .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
            .map(|e| e.path())
            .collect();
        let st2 = Command::new("sha256sum")
            .args(&copies)
            .stdout(std::process::Stdio::null())
            .status()?;
        base_s.push(t.elapsed().as_secs_f64());
        if !st.success() || !st2.success() {
            bail!("cp / sha256sum failed");
        }
        std::fs::remove_dir_all(&copy)?;
    }
    export_s.sort_by(f64::total_cmp);
    base_s.sort_by(f64::total_cmp);
    export_rss_mb.sort_by(f64::total_cmp);
    // Seeks in the one-hour recording.
    let mut player = mt_record::player::RecordingPlayer::new("hour", &rec, index.clone());
    let mut rng = fastrand::Rng::with_seed(11);
    let mut lat = Vec::with_capacity(seeks);
    for _ in 0..seeks {
        let target = t0 + rng.i64(0..3_600_000);
        let t = Instant::now();
        let Some(shown) = player.show(target)? else {
            let segs = index.lock().segments("hour", target - 1_000, target)?;
            bail!(
                "no frame at {target} (t0 {t0}, +{} ms): segments {segs:?}",
                target - t0
            );
        };
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let _ = shown;
    }
    lat.sort_by(f64::total_cmp);
    let p = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!("synthetic recordings written in {synth_s:.1} s (4 × {minutes} min + 1 h, 15 fps 640×360 H.264)");
    println!();
    println!(
        "| export 4 cameras × {minutes} min ({:.0} MB) | median s | ratio |",
        bytes as f64 / 1e6
    );
    println!("|---|---|---|");
    println!(
        "| `cp` + `sha256sum` of the same segment files (baseline) | {:.2} | 1 |",
        base_s[1]
    );
    println!(
        "| `matthan export`: signed archive (cut, stream, hash, zip, sign, fsync, audit) | {:.2} | {:.2} |",
        export_s[1],
        export_s[1] / base_s[1]
    );
    println!();
    println!(
        "peak RSS of the exporting process (median of 3, max): {:.0} MB, {:.0} MB",
        export_rss_mb[1], export_rss_mb[2]
    );
    println!();
    println!(
        "| seek in a one-hour recording ({seeks} random targets) | p50 ms | p99 ms | max ms |"
    );
    println!("|---|---|---|---|");
    println!(
        "| open segment + seek + decode to the target frame | {:.1} | {:.1} | {:.1} |",
        p(&lat, 0.5),
        p(&lat, 0.99),
        lat[lat.len() - 1]
    );
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}

/// The product binary built beside this one (`cargo build --release -p matthan`): the export
/// is measured as an officer's shell runs it.
fn matthan_exe() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe()?;
    let exe = me.with_file_name("matthan");
    if !exe.is_file() {
        bail!(
            "{} not found: build it first (cargo build --release -p matthan)",
            exe.display()
        );
    }
    Ok(exe)
}

/// Waits for child `pid`; returns whether it exited 0 and its peak resident set (KiB).
fn wait_with_rusage(pid: u32) -> anyhow::Result<(bool, i64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data filled by wait4 for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    if r < 0 {
        bail!("wait4: {}", std::io::Error::last_os_error());
    }
    Ok((
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        ru.ru_maxrss,
    ))
}

fn ed25519_dalek_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[42u8; 32])
}
