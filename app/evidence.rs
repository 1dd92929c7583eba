//! Command-line recording, evidence export and verification (`matthan record | export |
//! verify`), and building an export request from an incident in the log.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{bail, Context as _};
use mt_record::export::ExportRequest;

/// The recording directory: beside the log, `recordings/`.
pub fn rec_dir(db: &Path) -> PathBuf {
    db.with_file_name("recordings")
}

/// The workstation's signing key, beside the log.
pub fn key_path(db: &Path) -> PathBuf {
    db.with_file_name("workstation.key")
}

pub fn workstation_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "workstation".into())
}

/// `matthan verify`: prints what was checked; exit code 1 on any problem.
pub fn verify_cmd(archive: &Path, trust: &[String]) -> anyhow::Result<bool> {
    let trusted: Vec<[u8; 32]> = trust
        .iter()
        .map(|t| {
            hex::decode(t.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .with_context(|| format!("--trust {t}: expected a 64-hex-digit public key"))
        })
        .collect::<anyhow::Result<_>>()?;
    let rep = mt_record::verify::verify(archive, &trusted);
    println!("{}", archive.display());
    if let Some(m) = &rep.manifest {
        println!(
            "  exported by {} on {} at {} (Mắt Thần {}), incident {}",
            m.operator,
            m.workstation,
            m.created_ms,
            m.app_version,
            m.incident_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into())
        );
    }
    if let Some(f) = &rep.key_fingerprint {
        println!("  signing key fingerprint: {f}");
    }
    for c in &rep.checked {
        println!("  ok: {c}");
    }
    for p in &rep.problems {
        println!("  PROBLEM: {p}");
    }
    if rep.ok() {
        println!(
            "VERIFIED: signature and all {} files are as exported",
            rep.manifest.as_ref().map_or(0, |m| m.files.len())
        );
    } else {
        println!("NOT VERIFIED: {} problem(s)", rep.problems.len());
    }
    Ok(rep.ok())
}

/// `matthan record`: records the camera file's cameras into `dir` until killed (or `secs`).
pub fn record_cmd(
    file: &mt_core::CameraFile,
    dir: &Path,
    segment_secs: f64,
    secs: Option<u64>,
) -> anyhow::Result<()> {
    let capture = mt_capture::Capture::new(mt_capture::Timeouts::default())?;
    let mut cfg = mt_record::RecConfig::new(dir.to_owned());
    cfg.segment_secs = segment_secs;
    let (mut rec, rep) = mt_record::Recorder::start(cfg)?;
    if !rep.is_empty() {
        println!("reconciled: {rep:?}");
    }
    let mut handles = Vec::new();
    for c in &file.cameras {
        let h = capture.start_camera(c.clone())?;
        rec.add(&c.id.0, &h.main)?;
        handles.push(h);
    }
    println!("recording {} cameras into {}", handles.len(), dir.display());
    use std::io::Write;
    let _ = std::io::stdout().flush();
    match secs {
        Some(s) => std::thread::sleep(Duration::from_secs(s)),
        None => loop {
            std::thread::sleep(Duration::from_secs(3600));
        },
    }
    rec.stop();
    drop(capture);
    Ok(())
}

/// `matthan export`: one archive from the recordings (and the log, for `--incident`).
#[allow(clippy::too_many_arguments)]
pub fn export_cmd(
    db_path: &Path,
    rec: &Path,
    incident: Option<i64>,
    cameras: Option<String>,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    operator: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let mut req = match incident {
        Some(id) => {
            let db = mt_store::Db::open(db_path)?;
            mt_record::incident::request(&db, id, operator, &workstation_name())?
        }
        None => ExportRequest {
            operator: operator.to_owned(),
            workstation: workstation_name(),
            ..Default::default()
        },
    };
    if let Some(c) = cameras {
        req.cameras = c.split(',').map(|s| s.trim().to_owned()).collect();
    }
    if let Some(f) = from_ms {
        req.from_ms = f;
    }
    if let Some(t) = to_ms {
        req.to_ms = t;
    }
    if req.cameras.is_empty() {
        bail!("nothing to export: name --incident or --cameras");
    }
    let index = mt_record::Index::open(&rec.join("index.db"))?;
    let index = parking_lot::Mutex::new(index);
    let key = mt_record::keys::load_or_create(&key_path(db_path))?;
    let cancel = AtomicBool::new(false);
    let m = mt_record::export::export(
        &index,
        rec,
        &req,
        &key,
        out,
        &|p| {
            eprint!("\rexport {:>3.0} %", p * 100.0);
        },
        &cancel,
    )?;
    eprintln!();
    println!(
        "{}: {} files, {} clips, signed by key {}",
        out.display(),
        m.files.len(),
        m.clips.len(),
        mt_record::keys::fingerprint(key.verifying_key().as_bytes())
    );
    Ok(())
}
