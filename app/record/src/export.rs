//! Evidence export: one ZIP with per-camera clips (cut without re-encoding), the incident's
//! data, and `manifest.json` (SHA-256 of every file, who, where, when, which version) signed
//! with the workstation's Ed25519 key in `manifest.sig`. Written under a temporary name and
//! renamed only when complete: a cancelled or failed export leaves nothing under the final
//! name.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ed25519_dalek::{Signer, SigningKey};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::index::Index;
use crate::{now_ms, sync_dir, RecError, Result};

pub const SCHEMA: &str = "matthan-evidence/1";
pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";

/// What to export.
#[derive(Clone, Debug, Default)]
pub struct ExportRequest {
    pub cameras: Vec<String>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub incident_id: Option<i64>,
    /// The incident, its notes and bookmarks, as the log has them (written as incident.json).
    pub incident: Option<serde_json::Value>,
    /// Other files: (name in the archive, bytes), e.g. bookmark stills `snapshots/12.png`.
    pub attachments: Vec<(String, Vec<u8>)>,
    pub operator: String,
    pub workstation: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipInfo {
    pub camera: String,
    pub file: String,
    pub frames: i64,
    /// Wall-clock time of the clip's first frame (Unix ms): replay aligns cameras with it.
    pub start_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub app_version: String,
    pub created_ms: i64,
    pub operator: String,
    pub workstation: String,
    pub incident_id: Option<i64>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub clips: Vec<ClipInfo>,
    /// Hex of the Ed25519 public key that signed `manifest.sig`.
    pub public_key: String,
    pub files: Vec<FileEntry>,
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes the archive at `dest`. `progress` gets 0.0–1.0; `cancel` stops it (nothing is left
/// behind). Footage of an incident export is locked against retention first.
pub fn export(
    index: &Mutex<Index>,
    rec_dir: &Path,
    req: &ExportRequest,
    key: &SigningKey,
    dest: &Path,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Manifest> {
    let work = dest.with_extension("partial.d");
    let partial = dest.with_extension("partial");
    let r = export_inner(
        index, rec_dir, req, key, dest, &work, &partial, progress, cancel,
    );
    let _ = std::fs::remove_dir_all(&work);
    if r.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn export_inner(
    index: &Mutex<Index>,
    rec_dir: &Path,
    req: &ExportRequest,
    key: &SigningKey,
    dest: &Path,
    work: &Path,
    partial: &Path,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Manifest> {
    if req.to_ms <= req.from_ms {
        return Err(RecError::Invalid("the export range is empty".into()));
    }
    std::fs::create_dir_all(work).map_err(|e| RecError::io(work, e))?;
    let cancelled = || cancel.load(Ordering::Relaxed);
    progress(0.0);
    // 1. Clips (90 % of the work).
    let mut clips = Vec::new();
    let n = req.cameras.len().max(1) as f32;
    for (k, cam) in req.cameras.iter().enumerate() {
        if cancelled() {
            return Err(RecError::Cancelled);
        }
        let segs = {
            let idx = index.lock();
            if let Some(inc) = req.incident_id {
                idx.lock(inc, cam, req.from_ms, req.to_ms)?;
            }
            idx.segments(cam, req.from_ms, req.to_ms)?
        };
        if segs.is_empty() {
            tracing::warn!("export: no recording of {cam} in the range");
            continue;
        }
        let inputs: Vec<(PathBuf, i64)> = segs
            .iter()
            .map(|s| (rec_dir.join(&s.file), s.start_ms))
            .collect();
        let name = format!("clips/{}.mp4", crate::recorder_safe(cam));
        let out = work.join(format!("{k}.mp4"));
        let (frames, start_ms) =
            crate::mp4::cut_clip(&inputs, req.from_ms, req.to_ms, &out, &cancelled)?;
        clips.push((
            ClipInfo {
                camera: cam.clone(),
                file: name,
                frames,
                start_ms,
            },
            out,
        ));
        progress(0.9 * (k + 1) as f32 / n);
    }
    if cancelled() {
        return Err(RecError::Cancelled);
    }
    // 2. The archive: clips, incident, attachments, then the signed manifest.
    let file = std::fs::File::create(partial).map_err(|e| RecError::io(partial, e))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let zerr = |e: zip::result::ZipError| RecError::Io {
        path: partial.display().to_string(),
        message: e.to_string(),
    };
    let mut files = Vec::new();
    let mut add =
        |zip: &mut zip::ZipWriter<std::fs::File>, name: &str, bytes: &[u8]| -> Result<()> {
            zip.start_file(name, opts).map_err(zerr)?;
            zip.write_all(bytes).map_err(|e| RecError::io(partial, e))?;
            files.push(FileEntry {
                name: name.to_owned(),
                bytes: bytes.len() as u64,
                sha256: hash(bytes),
            });
            Ok(())
        };
    for (info, path) in &clips {
        if cancelled() {
            return Err(RecError::Cancelled);
        }
        let bytes = std::fs::read(path).map_err(|e| RecError::io(path, e))?;
        add(&mut zip, &info.file, &bytes)?;
    }
    if let Some(inc) = &req.incident {
        let bytes = serde_json::to_vec_pretty(inc).map_err(|e| RecError::Invalid(e.to_string()))?;
        add(&mut zip, "incident.json", &bytes)?;
    }
    for (name, bytes) in &req.attachments {
        add(&mut zip, name, bytes)?;
    }
    let manifest = Manifest {
        schema: SCHEMA.into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        created_ms: now_ms(),
        operator: req.operator.clone(),
        workstation: req.workstation.clone(),
        incident_id: req.incident_id,
        from_ms: req.from_ms,
        to_ms: req.to_ms,
        clips: clips.iter().map(|(c, _)| c.clone()).collect(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        files,
    };
    let mbytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| RecError::Invalid(e.to_string()))?;
    let sig = key.sign(&mbytes);
    zip.start_file(MANIFEST, opts).map_err(zerr)?;
    zip.write_all(&mbytes)
        .map_err(|e| RecError::io(partial, e))?;
    zip.start_file(SIGNATURE, opts).map_err(zerr)?;
    zip.write_all(hex::encode(sig.to_bytes()).as_bytes())
        .map_err(|e| RecError::io(partial, e))?;
    let file = zip.finish().map_err(zerr)?;
    file.sync_all().map_err(|e| RecError::io(partial, e))?;
    drop(file);
    if cancelled() {
        return Err(RecError::Cancelled);
    }
    std::fs::rename(partial, dest).map_err(|e| RecError::io(dest, e))?;
    if let Some(d) = dest.parent() {
        let _ = sync_dir(d);
    }
    progress(1.0);
    Ok(manifest)
}
