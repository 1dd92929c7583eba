//! One thread per camera ("record <id>") turns the stream's packets into segments.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mt_capture::{RecPacket, StreamShared};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::index::{Index, Segment};
use crate::mp4::{probe, SegmentWriter};
use crate::{now_ms, sync_dir, RecError, Result};

#[derive(Clone, Debug)]
pub struct RecConfig {
    pub dir: PathBuf,
    /// A new segment starts at the first keyframe after this long.
    pub segment_secs: f64,
    /// Retention: oldest unlocked segments go when the recordings exceed this.
    pub quota_bytes: u64,
    /// Retention: segments that ended longer ago than this go (None: keep while under quota).
    pub max_age: Option<Duration>,
}

impl RecConfig {
    pub fn new(dir: PathBuf) -> Self {
        RecConfig {
            dir,
            segment_secs: 60.0,
            quota_bytes: 50 << 30,
            max_age: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// What the recorder found on start that the index did not agree with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciled {
    /// Unfinished segments (a kill or power loss) made whole and indexed.
    pub recovered: Vec<String>,
    /// Finished files the index did not know (indexed now).
    pub indexed: Vec<String>,
    /// Index rows whose file is gone (removed).
    pub rows_removed: Vec<String>,
    /// Unfinished files without a single readable frame (deleted).
    pub discarded: Vec<String>,
}

impl Reconciled {
    pub fn is_empty(&self) -> bool {
        self.recovered.is_empty()
            && self.indexed.is_empty()
            && self.rows_removed.is_empty()
            && self.discarded.is_empty()
    }
}

/// Recording state for the UI.
#[derive(Clone, Debug, Default)]
pub struct RecStatus {
    /// Set while recording cannot write (disk full, I/O error); cleared by the next good segment.
    pub alarm: Option<String>,
    pub segments: u64,
    pub deleted_by_retention: u64,
}

pub struct Recorder {
    cfg: RecConfig,
    index: Arc<Mutex<Index>>,
    status: Arc<Mutex<RecStatus>>,
    streams: Vec<Arc<StreamShared>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl Recorder {
    /// Opens the recording directory and its index, and reconciles them.
    pub fn start(cfg: RecConfig) -> Result<(Recorder, Reconciled)> {
        std::fs::create_dir_all(&cfg.dir).map_err(|e| RecError::io(&cfg.dir, e))?;
        let index = Index::open(&cfg.dir.join("index.db"))?;
        let rep = reconcile(&cfg.dir, &index)?;
        for r in rep
            .recovered
            .iter()
            .chain(&rep.indexed)
            .chain(&rep.rows_removed)
            .chain(&rep.discarded)
        {
            tracing::warn!("recordings: {r}");
        }
        Ok((
            Recorder {
                cfg,
                index: Arc::new(Mutex::new(index)),
                status: Default::default(),
                streams: Vec::new(),
                threads: Vec::new(),
            },
            rep,
        ))
    }

    pub fn index(&self) -> Arc<Mutex<Index>> {
        self.index.clone()
    }

    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    pub fn status(&self) -> RecStatus {
        self.status.lock().clone()
    }

    /// Records `stream` as camera `camera_id` from now on.
    pub fn add(&mut self, camera_id: &str, stream: &Arc<StreamShared>) -> Result<()> {
        let (tx, rx) = sync_channel::<RecPacket>(256);
        let cam_dir = self.cfg.dir.join(crate::recorder_safe(camera_id));
        std::fs::create_dir_all(&cam_dir).map_err(|e| RecError::io(&cam_dir, e))?;
        let w = CameraRecorder {
            camera: camera_id.to_owned(),
            cam_dir,
            root: self.cfg.dir.clone(),
            cfg: self.cfg.clone(),
            index: self.index.clone(),
            status: self.status.clone(),
        };
        let h = std::thread::Builder::new()
            .name(format!("record {camera_id}"))
            .spawn(move || w.run(rx))
            .map_err(|e| RecError::Invalid(format!("cannot start a recording thread: {e}")))?;
        stream.set_recorder(Some(tx));
        self.streams.push(stream.clone());
        self.threads.push(h);
        Ok(())
    }

    /// Stops recording: every open segment is finished and indexed.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        for s in self.streams.drain(..) {
            s.set_recorder(None);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Runs retention now (also run after every segment).
    pub fn retention(&self) -> Result<u64> {
        retention(&self.cfg, &self.index, &self.status)
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

struct CameraRecorder {
    camera: String,
    cam_dir: PathBuf,
    root: PathBuf,
    cfg: RecConfig,
    index: Arc<Mutex<Index>>,
    status: Arc<Mutex<RecStatus>>,
}

impl CameraRecorder {
    fn run(self, rx: std::sync::mpsc::Receiver<RecPacket>) {
        let mut cur: Option<SegmentWriter> = None;
        let mut last_packet = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(p) => {
                    last_packet = Instant::now();
                    let rotate = cur.as_ref().is_some_and(|w| {
                        p.session != w.session
                            || p.codec != w.codec()
                            || (p.keyframe && w.elapsed_s() >= self.cfg.segment_secs)
                    });
                    if rotate {
                        self.finish(cur.take());
                    }
                    match cur.as_mut() {
                        Some(w) => {
                            if let Err(e) = w.push(p) {
                                self.alarm(&e);
                                // Close what we have; the next keyframe starts a new file.
                                self.finish(cur.take());
                            }
                        }
                        None if p.keyframe => {
                            let path = self.cam_dir.join(format!("{}.mp4.partial", p.wall_ms));
                            match SegmentWriter::create(&path, p) {
                                Ok(w) => cur = Some(w),
                                Err(e) => self.alarm(&e),
                            }
                        }
                        None => {}
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // The camera went quiet: close the segment rather than leave it open.
                    if cur.is_some() && last_packet.elapsed() > Duration::from_secs(3) {
                        self.finish(cur.take());
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.finish(cur.take());
                    return;
                }
            }
        }
    }

    fn alarm(&self, e: &RecError) {
        tracing::error!("recording {}: {e}", self.camera);
        self.status.lock().alarm = Some(format!("{}: {e}", self.camera));
    }

    /// Trailer, fsync, rename, fsync the directory, then index: a row always names a whole
    /// file.
    fn finish(&self, w: Option<SegmentWriter>) {
        let Some(w) = w else { return };
        let partial = w.path.clone();
        let r = (|| -> Result<()> {
            let w = w.finish()?;
            let f = std::fs::File::open(&partial).map_err(|e| RecError::io(&partial, e))?;
            f.sync_all().map_err(|e| RecError::io(&partial, e))?;
            let bytes = f.metadata().map_err(|e| RecError::io(&partial, e))?.len();
            drop(f);
            let done = partial.with_extension("");
            std::fs::rename(&partial, &done).map_err(|e| RecError::io(&done, e))?;
            sync_dir(&self.cam_dir).map_err(|e| RecError::io(&self.cam_dir, e))?;
            let sha = sha256_file(&done).map_err(|e| RecError::io(&done, e))?;
            let rel = done
                .strip_prefix(&self.root)
                .unwrap_or(&done)
                .display()
                .to_string();
            let idx = self.index.lock();
            let id = idx.insert(&Segment {
                id: 0,
                camera_id: self.camera.clone(),
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                frames: w.frames,
                bytes: bytes as i64,
                file: rel,
                sha256: sha,
            })?;
            idx.set_activity(id, &w.activity)?;
            Ok(())
        })();
        match r {
            Ok(()) => {
                {
                    let mut st = self.status.lock();
                    st.segments += 1;
                    st.alarm = None;
                }
                if let Err(e) = retention(&self.cfg, &self.index, &self.status) {
                    self.alarm(&e);
                }
            }
            Err(e) => self.alarm(&e),
        }
    }
}

fn retention(cfg: &RecConfig, index: &Mutex<Index>, status: &Mutex<RecStatus>) -> Result<u64> {
    let idx = index.lock();
    let mut deleted = 0;
    loop {
        let total = idx.total_bytes()? as u64;
        let Some(old) = idx.oldest_unlocked()? else {
            if total > cfg.quota_bytes {
                status.lock().alarm = Some(format!(
                    "recordings use {} MB, over the quota of {} MB, and the rest is locked by incidents",
                    total >> 20,
                    cfg.quota_bytes >> 20
                ));
            }
            break;
        };
        let too_old = cfg
            .max_age
            .is_some_and(|a| old.end_ms < now_ms() - a.as_millis() as i64);
        if total <= cfg.quota_bytes && !too_old {
            break;
        }
        let path = cfg.dir.join(&old.file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RecError::io(&path, e)),
        }
        idx.delete(old.id)?;
        deleted += 1;
    }
    status.lock().deleted_by_retention += deleted;
    Ok(deleted)
}

/// Brings the index and the files into agreement (see [`Reconciled`]).
pub fn reconcile(dir: &Path, index: &Index) -> Result<Reconciled> {
    let mut rep = Reconciled::default();
    let mut on_disk = HashSet::new();
    let cams = std::fs::read_dir(dir).map_err(|e| RecError::io(dir, e))?;
    for cam in cams.flatten() {
        let cam_path = cam.path();
        if !cam_path.is_dir() {
            continue;
        }
        let camera_dir = cam.file_name().to_string_lossy().into_owned();
        let files = std::fs::read_dir(&cam_path).map_err(|e| RecError::io(&cam_path, e))?;
        for f in files.flatten() {
            let mut path = f.path();
            let name = f.file_name().to_string_lossy().into_owned();
            if name.ends_with(".mp4.partial") {
                match probe(&path) {
                    Ok(p) if p.frames > 0 && p.start_ms.is_some() => {
                        let done = path.with_extension("");
                        std::fs::rename(&path, &done).map_err(|e| RecError::io(&done, e))?;
                        let _ = sync_dir(&cam_path);
                        rep.recovered.push(format!(
                            "{}: unfinished segment kept ({} frames, {:.1} s)",
                            done.display(),
                            p.frames,
                            p.duration_s
                        ));
                        path = done;
                    }
                    _ => {
                        let _ = std::fs::remove_file(&path);
                        rep.discarded.push(format!(
                            "{}: unfinished segment without a readable frame, deleted",
                            path.display()
                        ));
                        continue;
                    }
                }
            } else if !name.ends_with(".mp4") {
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            on_disk.insert(rel.clone());
            if index.by_file(&rel)?.is_some() {
                continue;
            }
            let Ok(p) = probe(&path) else {
                continue;
            };
            let start = p.start_ms.unwrap_or(0);
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            let sha = sha256_file(&path).map_err(|e| RecError::io(&path, e))?;
            // The camera id is the directory's name (ids are kept file-name safe).
            index.insert(&Segment {
                id: 0,
                camera_id: camera_dir.clone(),
                start_ms: start,
                end_ms: start + (p.duration_s * 1000.0) as i64,
                frames: p.frames,
                bytes: bytes as i64,
                file: rel.clone(),
                sha256: sha,
            })?;
            if !rep
                .recovered
                .iter()
                .any(|r| r.starts_with(&path.display().to_string()))
            {
                rep.indexed
                    .push(format!("{rel}: file not in the index, indexed"));
            }
        }
    }
    for s in index.all()? {
        if !on_disk.contains(&s.file) {
            index.delete(s.id)?;
            rep.rows_removed.push(format!(
                "{}: indexed segment of {} has no file, row removed",
                s.file, s.camera_id
            ));
        }
    }
    Ok(rep)
}
