//! One thread per camera ("record <id>") turns the stream's packets into segments.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mt_capture::{RecMsg, StreamShared};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::index::{GapReason, Index, Segment};
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
    /// Build the motion index (a keyframe decoded per second or two). Off only to measure
    /// what it costs.
    pub motion_index: bool,
}

impl RecConfig {
    pub fn new(dir: PathBuf) -> Self {
        RecConfig {
            dir,
            segment_secs: 60.0,
            quota_bytes: 50 << 30,
            max_age: Some(Duration::from_secs(30 * 86_400)),
            motion_index: true,
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
    /// Per camera: whether it is being recorded now, and if not, why.
    pub cameras: std::collections::BTreeMap<String, CameraRec>,
}

/// Whether one camera is being recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraRec {
    /// A segment is open and receiving frames.
    pub recording: bool,
    /// Why it is not (or why its last run ended), and since when (Unix ms).
    pub problem: Option<(GapReason, String, i64)>,
    /// Frames the recorder did not get (its queue was full), since start.
    pub frames_dropped: u64,
    /// RTP packets lost before frames that were recorded (marked damaged), since start.
    pub packets_lost: u64,
    /// Keyframes sampled into the motion index, and those that gave no picture.
    pub motion_samples: u64,
    pub motion_failed: u64,
    /// Time the motion index took (decoding keyframes, comparing), since start.
    pub motion_busy: Duration,
}

impl RecStatus {
    /// Cameras that are not being recorded now, with the reason.
    pub fn not_recording(&self) -> Vec<(&str, GapReason, &str)> {
        self.cameras
            .iter()
            .filter(|(_, c)| !c.recording)
            .filter_map(|(id, c)| {
                c.problem
                    .as_ref()
                    .map(|(r, d, _)| (id.as_str(), *r, d.as_str()))
            })
            .collect()
    }
}

pub struct Recorder {
    cfg: RecConfig,
    index: Arc<Mutex<Index>>,
    status: Arc<Mutex<RecStatus>>,
    streams: Vec<Arc<StreamShared>>,
    /// Per stream (same order): the flag that tells its thread it was removed.
    removed: Vec<Arc<std::sync::atomic::AtomicBool>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// The exact start of the segments this process is writing now, by file: a file's name holds
/// its first packet's time as it was known when the file was made, which the first pictures
/// can still move back (B-frames, the camera's clock). A process-wide map because players
/// and exports find unfinished segments by their files.
static OPEN_STARTS: std::sync::LazyLock<Mutex<std::collections::HashMap<PathBuf, i64>>> =
    std::sync::LazyLock::new(Default::default);

/// The segment `camera` is writing now (`<start ms>.mp4.partial`), with its start, if any.
pub fn open_segment(rec_dir: &Path, camera: &str) -> Option<(PathBuf, i64)> {
    let dir = rec_dir.join(crate::recorder_safe(camera));
    // This process's recorder says which file it is writing: no need to list the folder
    // (thousands of segments) at every seek.
    if let Some(open) = OPEN_STARTS
        .lock()
        .iter()
        .filter(|(p, _)| p.parent() == Some(dir.as_path()))
        .max_by_key(|(_, s)| **s)
        .map(|(p, s)| (p.clone(), *s))
    {
        if open.0.exists() {
            return Some(open);
        }
    }
    let (path, named) = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let start: i64 = name.strip_suffix(".mp4.partial")?.parse().ok()?;
            Some((e.path(), start))
        })
        .max_by_key(|(_, s)| *s)?;
    let exact = OPEN_STARTS.lock().get(&path).copied();
    Some((path, exact.unwrap_or(named)))
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
                removed: Vec::new(),
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
        let (tx, rx) = sync_channel::<RecMsg>(256);
        let removed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cam_dir = self.cfg.dir.join(crate::recorder_safe(camera_id));
        std::fs::create_dir_all(&cam_dir).map_err(|e| RecError::io(&cam_dir, e))?;
        let w = CameraRecorder {
            camera: camera_id.to_owned(),
            cam_dir,
            root: self.cfg.dir.clone(),
            cfg: self.cfg.clone(),
            index: self.index.clone(),
            status: self.status.clone(),
            stream: stream.clone(),
            motion: Default::default(),
            removed: removed.clone(),
        };
        self.status
            .lock()
            .cameras
            .insert(camera_id.to_owned(), CameraRec::default());
        let h = std::thread::Builder::new()
            .name(format!("record {camera_id}"))
            .spawn(move || {
                mt_core::priority::lower_this_thread(mt_core::priority::VIDEO);
                w.run(rx)
            })
            .map_err(|e| RecError::Invalid(format!("cannot start a recording thread: {e}")))?;
        stream.set_recorder(Some(tx));
        self.streams.push(stream.clone());
        self.removed.push(removed);
        self.threads.push(h);
        Ok(())
    }

    /// Stops recording one camera (it was removed): its recorder thread finishes and indexes
    /// the open segment on its own, and is joined when the recorder stops. Its recordings stay.
    /// Returns whether the camera was being recorded.
    pub fn remove(&mut self, camera_id: &str) -> bool {
        let label = format!("{camera_id}/");
        let Some(i) = self
            .streams
            .iter()
            .position(|s| s.label.starts_with(&label))
        else {
            return false;
        };
        let s = self.streams.remove(i);
        self.removed
            .remove(i)
            .store(true, std::sync::atomic::Ordering::SeqCst);
        s.set_recorder(None);
        self.status.lock().cameras.remove(camera_id);
        true
    }

    /// Whether `camera_id` is being recorded.
    pub fn records(&self, camera_id: &str) -> bool {
        let label = format!("{camera_id}/");
        self.streams.iter().any(|s| s.label.starts_with(&label))
    }

    /// Stops recording: every open segment is finished and indexed.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        for s in self.streams.drain(..) {
            s.set_recorder(None);
        }
        self.removed.clear();
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
    stream: Arc<StreamShared>,
    /// The motion index of the footage being recorded (owned by this thread).
    motion: std::cell::RefCell<crate::motion::Tracker>,
    /// Set by [`Recorder::remove`]: the run ends as `camera-changed`, and this thread no
    /// longer writes the camera's status (a new recorder of the same id may own it).
    removed: Arc<std::sync::atomic::AtomicBool>,
}

/// How a segment ends: rotation inside a run, or the end of the run and why.
enum Close {
    /// The next segment continues the run.
    Rotate,
    EndRun(GapReason, String),
}

impl CameraRecorder {
    fn run(self, rx: std::sync::mpsc::Receiver<RecMsg>) {
        let mut cur: Option<SegmentWriter> = None;
        // The run the next segment continues (its start), if the footage is continuous.
        let mut run: Option<i64> = None;
        // Frames are not recorded until the next keyframe (after a loss, an overload …).
        let mut waiting_for_key = true;
        let mut last_packet = Instant::now();
        let mut dropped_seen = self.stream.recorder_dropped();
        let mut last_session = 0u64;
        // Damaged footage being recorded: since when, how many packets were lost.
        let mut damage: Option<(i64, i64)> = None;
        loop {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(RecMsg::Ended {
                    session,
                    reason,
                    detail,
                }) => {
                    if session < last_session {
                        continue;
                    }
                    if let Some((from_us, lost)) = damage.take() {
                        self.mark_damage(from_us, crate::now_ms() * 1000, lost);
                    }
                    let r = GapReason::parse(reason).unwrap_or(GapReason::CameraLost);
                    self.end_run(&mut cur, &mut run, r, &detail);
                    waiting_for_key = true;
                }
                Ok(RecMsg::Packet(p)) => {
                    last_packet = Instant::now();
                    // Frames the capture could not hand over: the footage has a hole here.
                    let dropped = self.stream.recorder_dropped();
                    if dropped != dropped_seen {
                        let n = dropped - dropped_seen;
                        dropped_seen = dropped;
                        self.with_cam(|c| c.frames_dropped += n);
                        self.end_run(
                            &mut cur,
                            &mut run,
                            GapReason::RecorderOverload,
                            &format!("{n} frames the recorder could not take"),
                        );
                        waiting_for_key = true;
                    }
                    if p.session != last_session && last_session != 0 {
                        // A new RTSP session without an end message (it could not be queued).
                        self.end_run(&mut cur, &mut run, GapReason::CameraLost, "");
                        waiting_for_key = true;
                    }
                    last_session = p.session;
                    // Packet loss: the frames are kept (evidence is never thrown away) and the
                    // stretch up to the next keyframe is marked damaged on the timeline.
                    if p.keyframe || p.loss > 0 {
                        if let Some((from_us, lost)) = damage.take() {
                            self.mark_damage(from_us, p.wall_us, lost);
                        }
                    }
                    if p.loss > 0 {
                        self.with_cam(|c| c.packets_lost += p.loss as u64);
                        if !p.keyframe {
                            damage = Some((p.wall_us, p.loss as i64));
                        }
                    }
                    if let Some(step) = p.clock_step_us {
                        // Recorded as such: the run on the old clock ends here, saying by
                        // how much the clock moved; the next run is on the new clock. A
                        // damaged stretch ends with the old clock's last picture.
                        if let Some((from_us, lost)) = damage.take() {
                            let to_us = cur.as_ref().map_or(from_us, |w| w.end_ms * 1000);
                            self.mark_damage(from_us, to_us, lost);
                        }
                        let detail = format!("{:+.3} s", step as f64 / 1e6);
                        self.end_run(&mut cur, &mut run, GapReason::ClockStep, &detail);
                        waiting_for_key = true;
                    } else if p.jumped {
                        self.end_run(&mut cur, &mut run, GapReason::TimestampJump, "");
                        waiting_for_key = true;
                    }
                    if p.keyframe && p.new_parameters && cur.is_some() {
                        let detail = format!("{}×{}", p.width, p.height);
                        self.end_run(&mut cur, &mut run, GapReason::NewParameters, &detail);
                    }
                    if waiting_for_key && !p.keyframe {
                        continue;
                    }
                    waiting_for_key = false;
                    if p.keyframe && self.cfg.motion_index {
                        let mut m = self.motion.borrow_mut();
                        m.keyframe(&p.data, p.codec, p.wall_us.div_euclid(1000), p.session);
                        let (n, failed, busy) = (m.sampled, m.failed_total, m.busy);
                        drop(m);
                        self.with_cam(|c| {
                            c.motion_samples = n;
                            c.motion_failed = failed;
                            c.motion_busy = busy;
                        });
                    }
                    let rotate = cur.as_ref().is_some_and(|w| {
                        p.codec != w.codec()
                            || (p.keyframe && w.elapsed_s() >= self.cfg.segment_secs)
                    });
                    if rotate {
                        let codec_changed = cur.as_ref().is_some_and(|w| p.codec != w.codec());
                        if codec_changed {
                            self.end_run(&mut cur, &mut run, GapReason::NewParameters, "codec");
                        } else {
                            run = self.finish(cur.take(), Close::Rotate);
                        }
                    }
                    match cur.as_mut() {
                        Some(w) => {
                            let before = w.start_ms;
                            let r = w.push(p);
                            if w.start_ms != before {
                                OPEN_STARTS.lock().insert(w.path.clone(), w.start_ms);
                            }
                            if let Err(e) = r {
                                self.alarm(&e);
                                let reason = match e {
                                    RecError::DiskFull { .. } => GapReason::DiskFull,
                                    _ => GapReason::WriteError,
                                };
                                // Close what we have; the next keyframe starts a new file.
                                self.end_run(&mut cur, &mut run, reason, &e.to_string());
                                waiting_for_key = true;
                            }
                        }
                        None if p.keyframe => {
                            let path = self.free_segment_path(p.wall_us.div_euclid(1000));
                            match SegmentWriter::create(&path, p, run) {
                                Ok(w) => {
                                    OPEN_STARTS.lock().insert(w.path.clone(), w.start_ms);
                                    cur = Some(w);
                                    self.with_cam(|c| {
                                        c.recording = true;
                                        c.problem = None;
                                    });
                                }
                                Err(e) => {
                                    self.alarm(&e);
                                    let reason = match e {
                                        RecError::DiskFull { .. } => GapReason::DiskFull,
                                        _ => GapReason::WriteError,
                                    };
                                    let _ = std::fs::remove_file(&path);
                                    self.note_problem(reason, &e.to_string());
                                    waiting_for_key = true;
                                }
                            }
                        }
                        None => {}
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // The camera went quiet: close the segment rather than leave it open.
                    if cur.is_some() && last_packet.elapsed() > Duration::from_secs(3) {
                        self.end_run(&mut cur, &mut run, GapReason::Stalled, "no frame for 3 s");
                        waiting_for_key = true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let (reason, detail) = if self.is_removed() {
                        (
                            GapReason::CameraChanged,
                            "camera removed or changed in the app",
                        )
                    } else {
                        (GapReason::AppNotRunning, "recording stopped")
                    };
                    self.end_run(&mut cur, &mut run, reason, detail);
                    return;
                }
            }
        }
    }

    fn mark_damage(&self, from_us: i64, to_us: i64, lost: i64) {
        let d = crate::index::Damage {
            camera_id: self.camera.clone(),
            from_ms: from_us.div_euclid(1000),
            to_ms: to_us.div_euclid(1000).max(from_us.div_euclid(1000)),
            packets_lost: lost,
        };
        if let Err(e) = self.index.lock().add_damage(&d) {
            self.alarm(&e);
        }
    }

    fn is_removed(&self) -> bool {
        self.removed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn with_cam(&self, f: impl FnOnce(&mut CameraRec)) {
        if self.is_removed() {
            return;
        }
        let mut st = self.status.lock();
        f(st.cameras.entry(self.camera.clone()).or_default());
    }

    fn note_problem(&self, reason: GapReason, detail: &str) {
        let at = now_ms();
        self.with_cam(|c| {
            c.recording = false;
            if c.problem.as_ref().is_none_or(|(r, _, _)| *r != reason) {
                c.problem = Some((reason, detail.to_owned(), at));
            }
        });
    }

    /// Ends the run: the open segment (if any) is finished with the reason; if the segment
    /// was already closed, the run's last indexed segment gets the reason.
    /// `<start ms>.mp4.partial` for a segment starting at `start_ms`, one millisecond later
    /// per name already taken: after a step back of the workstation's clock a new segment
    /// can start at a time an earlier file is named after, and must never replace it. (The
    /// true start is in the index; the name only has to be unique and sort by time.)
    fn free_segment_path(&self, start_ms: i64) -> PathBuf {
        (start_ms..start_ms + 10_000)
            .map(|ms| self.cam_dir.join(format!("{ms}.mp4.partial")))
            .find(|p| !p.exists() && !p.with_extension("").exists())
            .unwrap_or_else(|| {
                self.cam_dir
                    .join(format!("{start_ms}-{}.mp4.partial", std::process::id()))
            })
    }

    fn end_run(
        &self,
        cur: &mut Option<SegmentWriter>,
        run: &mut Option<i64>,
        reason: GapReason,
        detail: &str,
    ) {
        if reason != GapReason::NewParameters && reason != GapReason::TimestampJump {
            self.note_problem(reason, detail);
        }
        match cur.take() {
            Some(w) => {
                self.finish(Some(w), Close::EndRun(reason, detail.to_owned()));
            }
            None => {
                if run.is_some() {
                    let idx = self.index.lock();
                    if let Ok(Some(last)) = idx.last_segment(&self.camera) {
                        if last.end_reason.is_none() {
                            let _ = idx.set_end_reason(last.id, reason, detail);
                        }
                    }
                }
            }
        }
        *run = None;
        // The next keyframe starts new footage: it is not compared with the last one.
        self.motion.borrow_mut().reset();
    }

    fn alarm(&self, e: &RecError) {
        tracing::error!("recording {}: {e}", self.camera);
        self.status.lock().alarm = Some(format!("{}: {e}", self.camera));
    }

    /// Trailer, fsync, rename, fsync the directory, then index: a row always names a whole
    /// file. Returns the run the next segment continues (None when the run ended).
    fn finish(&self, w: Option<SegmentWriter>, close: Close) -> Option<i64> {
        let w = w?;
        let partial = w.path.clone();
        OPEN_STARTS.lock().remove(&partial);
        let (end_reason, end_detail) = match &close {
            Close::Rotate => (None, String::new()),
            Close::EndRun(r, d) => (Some(r.key().to_owned()), d.clone()),
        };
        let r = (|| -> Result<i64> {
            let w = w.finish()?;
            let f = std::fs::File::open(&partial).map_err(|e| RecError::io(&partial, e))?;
            f.sync_all().map_err(|e| RecError::io(&partial, e))?;
            let bytes = f.metadata().map_err(|e| RecError::io(&partial, e))?.len();
            drop(f);
            // A full disk can cut the file short of what was written without libavformat
            // saying so: then the index names only the whole pictures the file holds (none:
            // the file goes, and the run ends at the segment before).
            let mut w = w;
            if bytes < w.bytes_in {
                let p = probe(&partial);
                match p {
                    Ok(p) if p.frames > 0 => {
                        tracing::warn!(
                            "{}: cut short by the disk ({bytes} of {} bytes): {} of {} frames kept",
                            partial.display(),
                            w.bytes_in,
                            p.frames,
                            w.frames
                        );
                        w.frames = p.frames;
                        w.end_ms = w.start_ms + (p.duration_s * 1000.0) as i64;
                    }
                    _ => {
                        let _ = std::fs::remove_file(&partial);
                        return Err(RecError::DiskFull {
                            path: partial.display().to_string(),
                            message: format!("only {bytes} of {} bytes were written", w.bytes_in),
                        });
                    }
                }
            }
            let done = partial.with_extension("");
            std::fs::rename(&partial, &done).map_err(|e| RecError::io(&done, e))?;
            sync_dir(&self.cam_dir).map_err(|e| RecError::io(&self.cam_dir, e))?;
            let sha = sha256_file(&done).map_err(|e| RecError::io(&done, e))?;
            let rel = done
                .strip_prefix(&self.root)
                .unwrap_or(&done)
                .display()
                .to_string();
            if w.nudged > 0 {
                tracing::warn!(
                    "{rel}: {} presentation times moved to keep decode order (the camera reorders more than at the segment's start)",
                    w.nudged
                );
            }
            let seg = Segment {
                id: 0,
                camera_id: self.camera.clone(),
                start_ms: w.start_ms,
                end_ms: w.end_ms,
                frames: w.frames,
                bytes: bytes as i64,
                file: rel,
                sha256: sha,
                run_start_ms: w.run_start_ms,
                end_reason,
                end_detail,
                codec: w.codec().label().to_owned(),
                width: w.width,
                height: w.height,
            };
            let motion = self.motion.borrow_mut().take_until(w.end_ms);
            let failed = std::mem::take(&mut self.motion.borrow_mut().failed);
            let idx = self.index.lock();
            idx.insert_recorded(
                &seg,
                &w.activity,
                self.cfg.motion_index.then_some((&motion[..], failed)),
            )?;
            Ok(w.run_start_ms)
        })();
        match r {
            Ok(run_start) => {
                {
                    let mut st = self.status.lock();
                    st.segments += 1;
                    st.alarm = None;
                }
                if let Err(e) = retention(&self.cfg, &self.index, &self.status) {
                    self.alarm(&e);
                }
                match close {
                    Close::Rotate => Some(run_start),
                    Close::EndRun(..) => None,
                }
            }
            Err(e) => {
                self.alarm(&e);
                let reason = match e {
                    RecError::DiskFull { .. } => GapReason::DiskFull,
                    _ => GapReason::WriteError,
                };
                self.note_problem(reason, &e.to_string());
                // The segment could not be finished: the run ends at the last one indexed,
                // and the gap says why (not "the workstation was not running").
                let idx = self.index.lock();
                if let Ok(Some(last)) = idx.last_segment(&self.camera) {
                    if last.end_reason.is_none() {
                        let _ = idx.set_end_reason(last.id, reason, &e.to_string());
                    }
                }
                None
            }
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
        // In the order the files were finished (modification time), so that ids given here
        // keep recording order: playback prefers the segment recorded last where two cover
        // one time (after a step back of the clock), and names (start times) can go back.
        let mut files: Vec<_> = std::fs::read_dir(&cam_path)
            .map_err(|e| RecError::io(&cam_path, e))?
            .flatten()
            .map(|f| {
                let m = f.metadata().and_then(|m| m.modified()).ok();
                (m, f)
            })
            .collect();
        files.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.file_name().cmp(&b.1.file_name()))
        });
        for (_, f) in files {
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
            // A file finished here but not indexed, or recovered after a kill: its run ended
            // there without a reason (the workstation was not running after it).
            index.insert(&Segment {
                id: 0,
                camera_id: camera_dir.clone(),
                start_ms: start,
                end_ms: start + (p.duration_s * 1000.0) as i64,
                frames: p.frames,
                bytes: bytes as i64,
                file: rel.clone(),
                sha256: sha,
                run_start_ms: p.run_start_ms.unwrap_or(start),
                end_reason: None,
                end_detail: String::new(),
                codec: p.codec.clone(),
                width: p.width,
                height: p.height,
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
