//! Playing exported (or recorded) MP4 clips in step: every clip is asked for the picture at
//! the same wall-clock time and shows the last frame at or before it. Going back, or jumping
//! far ahead, seeks to the keyframe before the target and decodes forward from there.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ffmpeg_next as ff;
use mt_capture::decode::{Codec, Decoder};
use mt_capture::{DecodedFrame, StreamKind, StreamShared};

use crate::{RecError, Result};

/// Further ahead than this, seeking is faster than decoding forward.
const SEEK_AHEAD_MS: i64 = 3_000;
/// Pictures kept decoded ahead of the one shown (covers B-frame reordering).
const LOOKAHEAD: usize = 4;

pub struct ClipPlayer {
    pub path: PathBuf,
    /// Where its pictures go (drawn by the renderer like a live stream's).
    pub shared: Arc<StreamShared>,
    ictx: ff::format::context::Input,
    idx: usize,
    tb: ff::Rational,
    dec: Decoder,
    /// Wall-clock time of the clip's first presented frame.
    start_wall_ms: i64,
    first_pts: i64,
    /// Decoded pictures not shown yet, in presentation order.
    queue: VecDeque<(i64, Arc<DecodedFrame>)>,
    shown: Option<i64>,
    eof: bool,
    /// A packet read past a seek's end, decoded next.
    held: Option<ff::Packet>,
    /// Presentation times of the packets inside the decoder. It puts pictures out in
    /// presentation order, so each picture's time is the smallest one waiting: more reliable
    /// than the decoder's own frame timestamps with made-up decode times.
    fed: std::collections::BinaryHeap<std::cmp::Reverse<i64>>,
    /// Queue times are wall-clock times (false only while `open` learns the first time).
    anchored: bool,
    /// Frames decoded since opening (for the benchmark).
    pub decoded: u64,
}

fn err(path: &Path, e: impl std::fmt::Display) -> RecError {
    RecError::Mp4 {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl ClipPlayer {
    pub fn open(path: &Path, start_wall_ms: i64, label: &str) -> Result<Self> {
        mt_capture::decode::init_ffmpeg();
        let ictx = ff::format::input(path).map_err(|e| err(path, e))?;
        let st = ictx
            .streams()
            .best(ff::media::Type::Video)
            .ok_or_else(|| err(path, "no video stream"))?;
        let idx = st.index();
        let tb = st.time_base();
        let params = st.parameters();
        let codec = match params.id() {
            ff::codec::Id::H264 => Codec::H264,
            ff::codec::Id::HEVC => Codec::H265,
            other => return Err(err(path, format!("codec {other:?} is not H.264/H.265"))),
        };
        let dec = Decoder::from_parameters(codec, params).map_err(|e| err(path, e))?;
        let mut p = ClipPlayer {
            path: path.to_owned(),
            shared: StreamShared::new(label.to_owned(), StreamKind::Main),
            ictx,
            idx,
            tb,
            dec,
            start_wall_ms,
            first_pts: 0,
            queue: VecDeque::new(),
            shown: None,
            eof: false,
            held: None,
            fed: Default::default(),
            anchored: false,
            decoded: 0,
        };
        // The first presented frame's time anchors wall-clock time. A fresh decoder may put
        // out the first pictures before it has learnt the stream's reordering, so take the
        // smallest time of the first few.
        while p.queue.len() < LOOKAHEAD && !p.eof {
            p.decode_some()?;
        }
        p.first_pts = p.queue.iter().map(|q| q.0).min().unwrap_or(0);
        // Re-express queued times as wall-clock times now that the anchor is known.
        let first = p.first_pts;
        let (num, den) = (tb.numerator() as i64, tb.denominator() as i64);
        for q in p.queue.iter_mut() {
            q.0 = start_wall_ms + (q.0 - first) * 1000 * num / den;
        }
        p.queue.make_contiguous().sort_by_key(|q| q.0);
        p.anchored = true;
        Ok(p)
    }

    /// Keeps the queue in time order: right after a (re)start the decoder does not yet know
    /// how far the stream reorders pictures and may put some out early.
    fn enqueue(&mut self, t: i64, f: Arc<DecodedFrame>) {
        let pos = self.queue.partition_point(|q| q.0 <= t);
        self.queue.insert(pos, (t, f));
    }

    fn wall(&self, pts: i64) -> i64 {
        self.start_wall_ms
            + (pts - self.first_pts) * 1000 * self.tb.numerator() as i64
                / self.tb.denominator() as i64
    }

    /// Times of the pictures decoded ahead (diagnostics).
    pub fn queued_ms(&self) -> Vec<i64> {
        self.queue.iter().map(|q| q.0).collect()
    }

    /// Wall-clock time of the clip's first frame.
    pub fn start_ms(&self) -> i64 {
        self.start_wall_ms
    }

    /// Wall-clock time of the picture shown now.
    pub fn shown_ms(&self) -> Option<i64> {
        self.shown
    }

    /// Reads packets until at least one more picture is decoded (or the file ends).
    fn decode_some(&mut self) -> Result<()> {
        let anchored = self.anchored;
        let before = self.queue.len();
        let mut got = Vec::new();
        while got.is_empty() && !self.eof {
            let mut next = self.held.take();
            let limit = if next.is_some() { 0 } else { usize::MAX };
            for (s, pkt) in self.ictx.packets().take(limit) {
                if s.index() == self.idx {
                    next = Some(pkt);
                    break;
                }
            }
            match next {
                Some(pkt) => {
                    if let Some(p) = pkt.pts() {
                        self.fed.push(std::cmp::Reverse(p));
                    }
                    let fed = &mut self.fed;
                    let _ = self.dec.decode_packet(&pkt, |_, f| {
                        got.push((fed.pop().map(|r| r.0).unwrap_or(0), f))
                    });
                }
                None => {
                    self.eof = true;
                    let fed = &mut self.fed;
                    let _ = self
                        .dec
                        .finish(|_, f| got.push((fed.pop().map(|r| r.0).unwrap_or(0), f)));
                }
            }
        }
        self.decoded += got.len() as u64;
        for (pts, f) in got {
            let t = if anchored { self.wall(pts) } else { pts };
            self.enqueue(t, f);
        }
        let _ = before;
        Ok(())
    }

    /// Goes to the keyframe at or before `t` and decodes up to the next keyframe after it.
    ///
    /// Written by hand rather than with `avformat_seek_file`: our segments are fragmented MP4
    /// without an index, where libavformat's seek only knows the fragments it has read.
    /// Reading a one-minute segment's packets (no decoding) takes a few milliseconds.
    fn seek(&mut self, t: i64) -> Result<()> {
        self.ictx = ff::format::input(&self.path).map_err(|e| err(&self.path, e))?;
        self.dec.flush();
        self.fed.clear();
        self.queue.clear();
        self.eof = false;
        self.held = None;
        let mut gop: Vec<ff::Packet> = Vec::new();
        let mut after = None;
        let (start, first, idx) = (self.start_wall_ms, self.first_pts, self.idx);
        let (num, den) = (self.tb.numerator() as i64, self.tb.denominator() as i64);
        let wall = |p: i64| start + (p - first) * 1000 * num / den;
        for (s, pkt) in self.ictx.packets() {
            if s.index() != idx {
                continue;
            }
            let w = pkt.pts().map(wall).unwrap_or(i64::MIN);
            if pkt.is_key() {
                if w <= t {
                    gop.clear();
                } else if !gop.is_empty() {
                    after = Some(pkt);
                    break;
                }
            }
            gop.push(pkt);
        }
        if after.is_none() {
            self.eof = true;
        }
        // The next keyframe too: the decoder holds back the GOP's last pictures (B-frame
        // reordering) until it sees it.
        if let Some(a) = after.take() {
            gop.push(a);
        }
        let mut got = Vec::new();
        let fed = &mut self.fed;
        for pkt in &gop {
            if let Some(p) = pkt.pts() {
                fed.push(std::cmp::Reverse(p));
            }
            let _ = self.dec.decode_packet(pkt, |_, f| {
                got.push((fed.pop().map(|r| r.0).unwrap_or(0), f))
            });
        }
        if self.eof {
            let _ = self
                .dec
                .finish(|_, f| got.push((fed.pop().map(|r| r.0).unwrap_or(0), f)));
        }
        self.decoded += got.len() as u64;
        for (pts, f) in got {
            let w = self.wall(pts);
            self.enqueue(w, f);
        }
        Ok(())
    }

    /// Shows the last frame at or before wall-clock time `t`; returns its time (None before
    /// the clip's first frame).
    pub fn show(&mut self, t: i64) -> Result<Option<i64>> {
        let behind = self.shown.is_some_and(|s| t < s);
        let far = self
            .queue
            .back()
            .map(|b| b.0)
            .or(self.shown)
            .is_some_and(|s| t > s + SEEK_AHEAD_MS);
        if behind || far {
            self.seek(t)?;
            self.shown = None;
        }
        let mut pick: Option<(i64, Arc<DecodedFrame>)> = None;
        loop {
            // Keep a few pictures decoded ahead, so one put out late is in its place.
            if self.queue.len() < LOOKAHEAD && !self.eof {
                self.decode_some()?;
                continue;
            }
            if self.queue.is_empty() {
                break;
            }
            let (ft, _) = self.queue[0];
            if ft <= t {
                pick = self.queue.pop_front();
            } else {
                break;
            }
        }
        match pick {
            Some((ft, f)) => {
                self.shown = Some(ft);
                self.shared.publish(f);
            }
            // Before the clip's first frame: show that frame rather than nothing.
            None if self.shown.is_none() => {
                if let Some((_, f)) = self.queue.front() {
                    self.shared.publish(f.clone());
                }
            }
            None => {}
        }
        Ok(self.shown)
    }
}

/// Something that shows the picture at a wall-clock time: an exported clip, or a camera's
/// recording.
pub trait TimedSource: Send + 'static {
    fn show_at(&mut self, t: i64) -> Result<Option<i64>>;
    fn stream(&self) -> Arc<StreamShared>;
    fn first_ms(&self) -> i64;
}

impl TimedSource for ClipPlayer {
    fn show_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.show(t)
    }
    fn stream(&self) -> Arc<StreamShared> {
        self.shared.clone()
    }
    fn first_ms(&self) -> i64 {
        self.start_ms()
    }
}

impl TimedSource for RecordingPlayer {
    fn show_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.show(t)
    }
    fn stream(&self) -> Arc<StreamShared> {
        self.shared.clone()
    }
    fn first_ms(&self) -> i64 {
        0
    }
}

/// A player on its own thread ("replay <label>"), following a shared target time: the UI
/// sets the time each frame and never waits for decoding.
pub struct PlayerThread {
    pub shared: Arc<StreamShared>,
    pub target: Arc<AtomicI64>,
    pub shown: Arc<AtomicI64>,
    pub start_ms: i64,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PlayerThread {
    pub fn spawn(mut p: impl TimedSource, label: &str) -> std::io::Result<Self> {
        let target = Arc::new(AtomicI64::new(p.first_ms()));
        let shown = Arc::new(AtomicI64::new(i64::MIN));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = p.stream();
        let start_ms = p.first_ms();
        let (t, s, st) = (target.clone(), shown.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name(format!("replay {label}"))
            .spawn(move || {
                let mut last = i64::MIN;
                while !st.load(Ordering::Relaxed) {
                    let want = t.load(Ordering::Relaxed);
                    if want != last {
                        match p.show_at(want) {
                            Ok(Some(at)) => s.store(at, Ordering::Relaxed),
                            Ok(None) => s.store(i64::MIN, Ordering::Relaxed),
                            Err(e) => tracing::warn!("{e}"),
                        }
                        last = want;
                    } else {
                        std::thread::sleep(Duration::from_millis(4));
                    }
                }
            })?;
        Ok(PlayerThread {
            shared,
            target,
            shown,
            start_ms,
            stop,
            handle: Some(handle),
        })
    }

    pub fn set_time(&self, t: i64) {
        self.target.store(t, Ordering::Relaxed);
    }

    pub fn shown_ms(&self) -> Option<i64> {
        let v = self.shown.load(Ordering::Relaxed);
        (v != i64::MIN).then_some(v)
    }
}

impl Drop for PlayerThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Plays one camera's recording: the segment holding the asked time is opened (and the
/// next one when time runs past it), so time moves across segment files seamlessly.
pub struct RecordingPlayer {
    pub camera: String,
    rec_dir: PathBuf,
    index: Arc<parking_lot::Mutex<crate::Index>>,
    pub shared: Arc<StreamShared>,
    current: Option<(i64, i64, ClipPlayer)>,
}

impl RecordingPlayer {
    pub fn new(camera: &str, rec_dir: &Path, index: Arc<parking_lot::Mutex<crate::Index>>) -> Self {
        RecordingPlayer {
            camera: camera.to_owned(),
            rec_dir: rec_dir.to_owned(),
            index,
            shared: StreamShared::new(format!("{camera}/playback"), StreamKind::Main),
            current: None,
        }
    }

    /// Shows the recorded picture at `t` (the last frame at or before it); None where there
    /// is no recording. The segment being written (`.partial`, fragmented MP4) is played too,
    /// up to its last complete fragment, so the last minute can be replayed.
    pub fn show(&mut self, t: i64) -> Result<Option<i64>> {
        let inside = self
            .current
            .as_ref()
            .is_some_and(|(s, e, _)| t >= *s && t <= *e + 1_000);
        if !inside {
            self.current = self.open_at(t)?;
        }
        let Some((_, _, p)) = self.current.as_mut() else {
            return Ok(None);
        };
        match p.show(t) {
            Ok(r) => Ok(r),
            // The unfinished file was renamed when its segment ended: find it in the index.
            Err(_) => {
                self.current = self.open_at(t)?;
                match self.current.as_mut() {
                    Some((_, _, p)) => p.show(t),
                    None => Ok(None),
                }
            }
        }
    }

    fn open_at(&self, t: i64) -> Result<Option<(i64, i64, ClipPlayer)>> {
        // The segment starting last at or before t (a frame's gap between segments still
        // shows the previous segment's last frame).
        let segs = self.index.lock().segments(&self.camera, t - 1_000, t)?;
        let (path, start, end) = match segs.into_iter().filter(|s| s.start_ms <= t).next_back() {
            Some(seg) => (self.rec_dir.join(&seg.file), seg.start_ms, seg.end_ms),
            None => match self.partial_at(t) {
                Some((path, start)) => (path, start, i64::MAX - 1_000),
                None => return Ok(None),
            },
        };
        let mut p = ClipPlayer::open(&path, start, &self.camera)?;
        // Publish into this player's stream so tiles keep their texture across segments.
        p.shared = self.shared.clone();
        Ok(Some((start, end, p)))
    }

    /// The unfinished segment file starting last at or before `t`.
    pub fn partial_at(&self, t: i64) -> Option<(PathBuf, i64)> {
        let dir = self.rec_dir.join(crate::recorder_safe(&self.camera));
        std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let start: i64 = name.strip_suffix(".mp4.partial")?.parse().ok()?;
                (start <= t).then_some((e.path(), start))
            })
            .max_by_key(|(_, s)| *s)
    }
}
