//! Evidence export: one ZIP with per-camera clips (cut without re-encoding), the incident's
//! data, and `manifest.json` (SHA-256 of every file, who, where, when, which version) signed
//! with the workstation's Ed25519 key in `manifest.sig`. Written under a temporary name and
//! renamed only when complete: a cancelled or failed export leaves nothing under the final
//! name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use ed25519_dalek::{Signer, SigningKey};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::index::Index;
use crate::{now_ms, sync_dir, RecError, Result};

/// The manifest's schema. Version 2 lists each camera's footage as runs (one clip per run of
/// continuous recording, with its start and end) and the gaps between them with their reason,
/// and carries the head of the log's audit chain at export time. Version 1 archives (one clip
/// per camera, start time only) are still read.
pub const SCHEMA: &str = "matthan-evidence/2";
pub const SCHEMA_V1: &str = "matthan-evidence/1";
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
    /// The newest row of the log's audit chain when the export was made (see [`AuditHead`]).
    pub audit_head: Option<AuditHead>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// One clip: one run of continuous recording of one camera (a camera that dropped out inside
/// the range has several). Times are the workstation's timeline (Unix ms, UTC).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipInfo {
    pub camera: String,
    pub file: String,
    pub frames: i64,
    /// Time of the clip's first picture (in presentation order): replay places it there.
    pub start_ms: i64,
    /// End of the clip's last picture (its time plus its duration). 0 in version-1 archives.
    #[serde(default)]
    pub end_ms: i64,
    /// "H.264" / "H.265" (empty in version-1 archives).
    #[serde(default)]
    pub codec: String,
    #[serde(default)]
    pub width: u32,
    #[serde(default)]
    pub height: u32,
}

/// Time inside the exported range for which a camera has no footage, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GapInfo {
    pub camera: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Machine-readable reason (see `mt_record::index::GapReason::key`), e.g. "camera-lost".
    pub reason: String,
    /// What the recorder knew, in words (e.g. the stream's error), may be empty.
    #[serde(default)]
    pub detail: String,
}

/// Footage that is in a clip but damaged: RTP packets were lost just before `from_ms`, and
/// the pictures up to the next keyframe (`to_ms`) refer to what is missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DamageInfo {
    pub camera: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub packets_lost: i64,
}

/// The head of the incident log's audit chain (its newest row) at export time. A later
/// rewrite of the log's history changes the hash of that row, which any archive exported
/// before still carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditHead {
    pub id: i64,
    pub row_sha256: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub app_version: String,
    pub created_ms: i64,
    /// `created_ms`, `from_ms` and `to_ms` as ISO 8601 with the workstation's offset
    /// (`2026-12-01T18:07:44.120+07:00`), for whoever reads the manifest; empty in archives
    /// made before they were added.
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    pub operator: String,
    pub workstation: String,
    pub incident_id: Option<i64>,
    pub from_ms: i64,
    pub to_ms: i64,
    /// Every run of every camera, in camera then time order.
    pub clips: Vec<ClipInfo>,
    /// Every gap inside [from_ms, to_ms], in camera then time order.
    #[serde(default)]
    pub gaps: Vec<GapInfo>,
    /// Damaged stretches (packet loss) inside the clips, in camera then time order.
    #[serde(default)]
    pub damaged: Vec<DamageInfo>,
    #[serde(default)]
    pub audit_head: Option<AuditHead>,
    /// Hex of the Ed25519 public key that signed `manifest.sig`.
    pub public_key: String,
    pub files: Vec<FileEntry>,
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file being written that hashes every byte on the way (the archive's SHA-256 without
/// reading it again).
///
/// The archive's hash runs on its own thread ("export-hash", fed through a bounded channel):
/// every clip byte is hashed twice (its entry's SHA-256 and the archive's), and on a 2-core
/// workstation doing both on one thread made the export 1.4 × `cp` + `sha256sum`.
struct HashingFile {
    file: std::fs::File,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    hasher: Option<std::thread::JoinHandle<String>>,
    written: u64,
}

impl HashingFile {
    fn new(file: std::fs::File) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let hasher = std::thread::Builder::new()
            .name("export-hash".into())
            .spawn(move || {
                let mut h = Sha256::new();
                for chunk in rx {
                    h.update(&chunk);
                }
                hex::encode(h.finalize())
            })?;
        Ok(HashingFile {
            file,
            tx: Some(tx),
            hasher: Some(hasher),
            written: 0,
        })
    }

    /// The archive's SHA-256 (hex), once everything is written.
    fn finish_hash(&mut self) -> String {
        drop(self.tx.take());
        self.hasher
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        if let Some(tx) = &self.tx {
            tx.send(buf[..n].to_vec())
                .map_err(|_| std::io::Error::other("the archive's hash thread stopped"))?;
        }
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Copies `from` into `to`, hashing it on the way; returns (bytes, SHA-256 hex). Never holds
/// more than a buffer of it in memory.
fn copy_hashed(
    from: &Path,
    to: &mut impl Write,
    cancel: &dyn Fn() -> bool,
) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(from).map_err(|e| RecError::io(from, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        if cancel() {
            return Err(RecError::Cancelled);
        }
        let k = f.read(&mut buf).map_err(|e| RecError::io(from, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        to.write_all(&buf[..k]).map_err(|e| RecError::io(from, e))?;
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// What an export wrote: the signed manifest and the archive's own SHA-256 (for the audit
/// row that names it).
#[derive(Clone, Debug)]
pub struct Exported {
    pub manifest: Manifest,
    pub archive_sha256: String,
    pub archive_bytes: u64,
}

/// Writes the archive at `dest`. `progress` gets 0.0–1.0; `cancel` stops it (nothing is left
/// behind). Footage of an incident export is locked against retention first. The segment
/// each camera is writing now is exported too, up to its last complete fragment.
pub fn export(
    index: &Mutex<Index>,
    rec_dir: &Path,
    req: &ExportRequest,
    key: &SigningKey,
    dest: &Path,
    progress: &dyn Fn(f32),
    cancel: &AtomicBool,
) -> Result<Exported> {
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
) -> Result<Exported> {
    if req.to_ms <= req.from_ms {
        return Err(RecError::Invalid("the export range is empty".into()));
    }
    std::fs::create_dir_all(work).map_err(|e| RecError::io(work, e))?;
    let cancelled = || cancel.load(Ordering::Relaxed);
    progress(0.0);
    // 1. Clips (half of the work): one per run of continuous footage, cut without
    //    re-encoding; the time between runs is a gap with its reason.
    let mut clips: Vec<(ClipInfo, PathBuf)> = Vec::new();
    let mut gaps: Vec<GapInfo> = Vec::new();
    let mut damaged: Vec<DamageInfo> = Vec::new();
    let n = req.cameras.len().max(1) as f32;
    for (k, cam) in req.cameras.iter().enumerate() {
        if cancelled() {
            return Err(RecError::Cancelled);
        }
        let tl = {
            let idx = index.lock();
            if let Some(inc) = req.incident_id {
                idx.lock(inc, cam, req.from_ms, req.to_ms)?;
            }
            let open = crate::recorder::open_segment(rec_dir, cam)
                .filter(|(_, start)| *start <= req.to_ms);
            let mut tl = idx.timeline(cam, req.from_ms, req.to_ms, open.as_ref().map(|o| o.1))?;
            // The segment being written now is exported too, up to its last complete
            // fragment: as the run it continues, or as a run of its own.
            if let Some((path, start)) = open {
                let seg = crate::index::Segment {
                    camera_id: cam.clone(),
                    start_ms: start,
                    end_ms: crate::now_ms(),
                    file: path
                        .strip_prefix(rec_dir)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                    run_start_ms: start,
                    ..Default::default()
                };
                match tl.runs.last_mut() {
                    Some(r)
                        if r.end_reason.is_none()
                            && (start - r.end_ms).abs() <= crate::index::CONTIGUOUS_MS =>
                    {
                        r.end_ms = seg.end_ms;
                        r.segments.push(seg);
                    }
                    _ => tl.runs.push(crate::index::Run {
                        camera_id: cam.clone(),
                        start_ms: start,
                        end_ms: seg.end_ms,
                        segments: vec![seg],
                        end_reason: None,
                    }),
                }
            }
            tl
        };
        for g in &tl.gaps {
            gaps.push(GapInfo {
                camera: cam.clone(),
                from_ms: g.from_ms,
                to_ms: g.to_ms,
                reason: g.reason.key().to_owned(),
                detail: g.detail.clone(),
            });
        }
        for d in &tl.damaged {
            damaged.push(DamageInfo {
                camera: cam.clone(),
                from_ms: d.from_ms,
                to_ms: d.to_ms,
                packets_lost: d.packets_lost,
            });
        }
        if tl.runs.is_empty() {
            tracing::warn!("export: no recording of {cam} in the range");
            continue;
        }
        let runs = tl.runs.len();
        for (r, run) in tl.runs.iter().enumerate() {
            let inputs: Vec<(PathBuf, i64)> = run
                .segments
                .iter()
                .map(|s| (rec_dir.join(&s.file), s.start_ms))
                .collect();
            let name = if runs == 1 {
                format!("clips/{}.mp4", crate::recorder_safe(cam))
            } else {
                format!("clips/{}-{}.mp4", crate::recorder_safe(cam), r + 1)
            };
            let out = work.join(format!("{k}-{r}.mp4"));
            let cut = match crate::mp4::cut_clip(&inputs, req.from_ms, req.to_ms, &out, &cancelled)
            {
                Ok(c) => c,
                // A run that only touches the range with pictures outside it.
                Err(RecError::Invalid(_)) => continue,
                Err(e) => return Err(e),
            };
            clips.push((
                ClipInfo {
                    camera: cam.clone(),
                    file: name,
                    frames: cut.frames,
                    start_ms: cut.start_ms,
                    end_ms: cut.end_ms,
                    codec: cut.codec,
                    width: cut.width,
                    height: cut.height,
                },
                out,
            ));
        }
        progress(0.5 * (k + 1) as f32 / n);
    }
    if cancelled() {
        return Err(RecError::Cancelled);
    }
    // 2. The archive, streamed: each clip copied from its file (never held in memory) and
    //    hashed on the way, then the incident, attachments and the signed manifest. ZIP64
    //    where a file or the archive passes 4 GiB.
    let file = std::fs::File::create(partial).map_err(|e| RecError::io(partial, e))?;
    let mut zip =
        zip::ZipWriter::new_stream(HashingFile::new(file).map_err(|e| RecError::io(partial, e))?)
            .set_auto_large_file();
    let zerr = |e: zip::result::ZipError| RecError::Io {
        path: partial.display().to_string(),
        message: e.to_string(),
    };
    let opts_for = |bytes: u64| {
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes >= 0xFFFF_0000)
    };
    let mut files = Vec::new();
    let clip_bytes: u64 = clips
        .iter()
        .map(|(_, p)| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum::<u64>()
        .max(1);
    let mut copied = 0u64;
    for (info, path) in &clips {
        if cancelled() {
            return Err(RecError::Cancelled);
        }
        let size = std::fs::metadata(path)
            .map_err(|e| RecError::io(path, e))?
            .len();
        zip.start_file(info.file.as_str(), opts_for(size))
            .map_err(zerr)?;
        let (bytes, sha256) = copy_hashed(path, &mut zip, &cancelled)?;
        copied += bytes;
        files.push(FileEntry {
            name: info.file.clone(),
            bytes,
            sha256,
        });
        progress(0.5 + 0.45 * copied as f32 / clip_bytes as f32);
    }
    let mut add = |zip: &mut zip::ZipWriter<zip::write::StreamWriter<HashingFile>>,
                   name: &str,
                   bytes: &[u8]|
     -> Result<()> {
        zip.start_file(name, opts_for(bytes.len() as u64))
            .map_err(zerr)?;
        zip.write_all(bytes).map_err(|e| RecError::io(partial, e))?;
        files.push(FileEntry {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: hash(bytes),
        });
        Ok(())
    };
    if let Some(inc) = &req.incident {
        let bytes = serde_json::to_vec_pretty(inc).map_err(|e| RecError::Invalid(e.to_string()))?;
        add(&mut zip, "incident.json", &bytes)?;
    }
    for (name, bytes) in &req.attachments {
        add(&mut zip, name, bytes)?;
    }
    let created_ms = now_ms();
    let manifest = Manifest {
        schema: SCHEMA.into(),
        app_version: env!("CARGO_PKG_VERSION").into(),
        created_ms,
        created: mt_core::time::iso(created_ms),
        from: mt_core::time::iso(req.from_ms),
        to: mt_core::time::iso(req.to_ms),
        operator: req.operator.clone(),
        workstation: req.workstation.clone(),
        incident_id: req.incident_id,
        from_ms: req.from_ms,
        to_ms: req.to_ms,
        clips: clips.iter().map(|(c, _)| c.clone()).collect(),
        gaps,
        damaged,
        audit_head: req.audit_head.clone(),
        public_key: hex::encode(key.verifying_key().as_bytes()),
        files,
    };
    let mbytes =
        serde_json::to_vec_pretty(&manifest).map_err(|e| RecError::Invalid(e.to_string()))?;
    let sig = key.sign(&mbytes);
    zip.start_file(MANIFEST, opts_for(mbytes.len() as u64))
        .map_err(zerr)?;
    zip.write_all(&mbytes)
        .map_err(|e| RecError::io(partial, e))?;
    zip.start_file(SIGNATURE, opts_for(128)).map_err(zerr)?;
    zip.write_all(hex::encode(sig.to_bytes()).as_bytes())
        .map_err(|e| RecError::io(partial, e))?;
    let mut out = zip.finish().map_err(zerr)?.into_inner();
    let archive_sha256 = out.finish_hash();
    let archive_bytes = out.written;
    out.file.sync_all().map_err(|e| RecError::io(partial, e))?;
    drop(out.file);
    if cancelled() {
        return Err(RecError::Cancelled);
    }
    std::fs::rename(partial, dest).map_err(|e| RecError::io(dest, e))?;
    if let Some(d) = dest.parent() {
        let _ = sync_dir(d);
    }
    progress(1.0);
    Ok(Exported {
        manifest,
        archive_sha256,
        archive_bytes,
    })
}
