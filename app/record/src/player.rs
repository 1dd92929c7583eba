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
    /// Frames decoded since opening (for the benchmark).
    pub decoded: u64,
    /// The pixel format the decoder cannot show (e.g. "10-bit 4:2:0"), when the last packets
    /// gave no picture for that reason: the tile says so rather than "no recording".
    pub decode_error: Option<String>,
}

/// The first presented picture's presentation time: the smallest among the first packets
/// (B-frames come after the picture they precede). Reads packets (no decoding); the caller
/// opens the file again to start from the top.
pub(crate) fn first_pts(ictx: &mut ff::format::context::Input, idx: usize) -> i64 {
    ictx.packets()
        .filter(|(s, _)| s.index() == idx)
        .take(16)
        .filter_map(|(_, p)| p.pts())
        .min()
        .unwrap_or(0)
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
        let mut ictx = ff::format::input(path).map_err(|e| err(path, e))?;
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
        // The first presented picture's time anchors the clip on the timeline: the smallest
        // presentation time among the first packets (B-frames come after the picture they
        // precede). Read without decoding, then start again from the top.
        let first_pts = first_pts(&mut ictx, idx);
        let ictx = ff::format::input(path).map_err(|e| err(path, e))?;
        let mut p = ClipPlayer {
            path: path.to_owned(),
            shared: StreamShared::new(label.to_owned(), StreamKind::Main),
            ictx,
            idx,
            tb,
            dec,
            start_wall_ms,
            first_pts,
            queue: VecDeque::new(),
            shown: None,
            eof: false,
            held: None,
            fed: Default::default(),
            decoded: 0,
            decode_error: None,
        };
        while p.queue.len() < LOOKAHEAD && !p.eof {
            p.decode_some()?;
        }
        Ok(p)
    }

    /// Keeps the queue in time order: right after a (re)start the decoder does not yet know
    /// how far the stream reorders pictures and may put some out early.
    fn enqueue(&mut self, t: i64, f: Arc<DecodedFrame>) {
        let pos = self.queue.partition_point(|q| q.0 <= t);
        self.queue.insert(pos, (t, f));
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

    /// Time of the next picture after the one shown (decoded ahead), if there is one.
    pub fn next_ms(&self) -> Option<i64> {
        self.queue.front().map(|q| q.0)
    }

    /// Feeds one packet (None: the end of the file) and queues what comes out, each picture
    /// stamped with its timeline time. The decoder puts pictures out in presentation order,
    /// so a picture's time is the smallest presentation time of the packets inside it:
    /// more reliable than its own timestamps after a seek.
    fn feed(&mut self, pkt: Option<&ff::Packet>) -> usize {
        if let Some(p) = pkt.and_then(|p| p.pts()) {
            self.fed.push(std::cmp::Reverse(p));
        }
        let (start, first, num, den) = (
            self.start_wall_ms,
            self.first_pts,
            self.tb.numerator() as i64,
            self.tb.denominator() as i64,
        );
        let fed = &mut self.fed;
        // The picture's own presentation time when the decoder gives it (decode times in our
        // files are real), dropping the fed times it passes (packets that gave no picture, e.g.
        // damaged by packet loss, must not shift the later ones); else the smallest fed.
        let mut time_of = |own: Option<i64>| -> i64 {
            let pts = match own {
                Some(p) => {
                    while fed.peek().is_some_and(|r| r.0 <= p) {
                        fed.pop();
                    }
                    p
                }
                None => fed.pop().map(|r| r.0).unwrap_or(first),
            };
            start + (pts - first) * 1000 * num / den
        };
        let mut got = Vec::new();
        let mut emit = |f: Arc<DecodedFrame>| got.push(f);
        let r = match pkt {
            Some(p) => self.dec.decode_packet(p, &mut time_of, &mut emit),
            None => self.dec.finish(&mut time_of, &mut emit),
        };
        let n = got.len();
        match r {
            Err(mt_capture::decode::DecodeError::PixelFormat(p)) => {
                self.decode_error = Some(mt_capture::decode::pixel_name(p))
            }
            _ if n > 0 => self.decode_error = None,
            _ => {}
        }
        self.decoded += n as u64;
        for f in got {
            self.enqueue(f.time_ms, f);
        }
        n
    }

    /// Reads packets until at least one more picture is decoded (or the file ends).
    fn decode_some(&mut self) -> Result<()> {
        loop {
            if self.eof {
                return Ok(());
            }
            let mut next = self.held.take();
            if next.is_none() {
                for (s, pkt) in self.ictx.packets() {
                    if s.index() == self.idx {
                        next = Some(pkt);
                        break;
                    }
                }
            }
            match next {
                Some(pkt) => {
                    if self.feed(Some(&pkt)) > 0 {
                        return Ok(());
                    }
                }
                None => {
                    self.eof = true;
                    self.feed(None);
                    return Ok(());
                }
            }
        }
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
        for pkt in &gop {
            self.feed(Some(pkt));
        }
        if self.eof {
            self.feed(None);
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
            // Before the clip's first picture there is nothing to show: the caller says so.
            None => {}
        }
        Ok(self.shown)
    }
}

/// Something that shows the picture at a wall-clock time: an exported clip, or a camera's
/// recording.
pub trait TimedSource: Send + 'static {
    /// Shows the last picture at or before `t`; its time, or None where there is no footage
    /// at `t` (a gap: nothing is shown, rather than a stale picture).
    fn show_at(&mut self, t: i64) -> Result<Option<i64>>;
    /// The time of the picture after the one shown, if known (frame step).
    fn next_ms(&self) -> Option<i64>;
    fn stream(&self) -> Arc<StreamShared>;
    fn first_ms(&self) -> i64;
    /// Why pictures that are there cannot be shown (the decoder's reason), if so.
    fn error(&self) -> Option<String> {
        None
    }
}

impl TimedSource for ClipPlayer {
    fn show_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.show(t)
    }
    fn next_ms(&self) -> Option<i64> {
        ClipPlayer::next_ms(self)
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
    fn next_ms(&self) -> Option<i64> {
        RecordingPlayer::next_ms(self)
    }
    fn stream(&self) -> Arc<StreamShared> {
        self.shared.clone()
    }
    fn error(&self) -> Option<String> {
        self.current
            .as_ref()
            .and_then(|(_, p)| p.decode_error.clone())
    }
    fn first_ms(&self) -> i64 {
        match &self.pieces {
            Pieces::Clips(c) => c.first().map_or(0, |p| p.start_ms),
            Pieces::Recording { .. } => 0,
        }
    }
}

/// A player on its own thread ("replay <label>"), following a shared target time: the UI
/// sets the time each frame and never waits for decoding.
pub struct PlayerThread {
    pub shared: Arc<StreamShared>,
    pub target: Arc<AtomicI64>,
    pub shown: Arc<AtomicI64>,
    /// Time of the next picture after the one shown (i64::MIN: unknown).
    pub next: Arc<AtomicI64>,
    /// The target time the last `shown`/`next` answer is for.
    pub answered: Arc<AtomicI64>,
    /// Why the footage at the target time cannot be shown, if so (see [`TimedSource::error`]).
    pub error: Arc<parking_lot::Mutex<Option<String>>>,
    pub start_ms: i64,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PlayerThread {
    pub fn spawn(mut p: impl TimedSource, label: &str) -> std::io::Result<Self> {
        let target = Arc::new(AtomicI64::new(p.first_ms()));
        let shown = Arc::new(AtomicI64::new(i64::MIN));
        let next = Arc::new(AtomicI64::new(i64::MIN));
        let answered = Arc::new(AtomicI64::new(i64::MIN));
        let error = Arc::new(parking_lot::Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = p.stream();
        let start_ms = p.first_ms();
        let (t, s, n, a, st, er) = (
            target.clone(),
            shown.clone(),
            next.clone(),
            answered.clone(),
            stop.clone(),
            error.clone(),
        );
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
                            Err(e) => {
                                s.store(i64::MIN, Ordering::Relaxed);
                                tracing::warn!("{e}")
                            }
                        }
                        n.store(p.next_ms().unwrap_or(i64::MIN), Ordering::Relaxed);
                        *er.lock() = p.error();
                        a.store(want, Ordering::Release);
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
            next,
            answered,
            error,
            start_ms,
            stop,
            handle: Some(handle),
        })
    }

    pub fn set_time(&self, t: i64) {
        self.target.store(t, Ordering::Relaxed);
    }

    /// Time of the picture shown (None: no footage at the target time).
    pub fn shown_ms(&self) -> Option<i64> {
        let v = self.shown.load(Ordering::Relaxed);
        (v != i64::MIN).then_some(v)
    }

    /// Time of the next picture after the one shown, once the player has caught up.
    pub fn next_ms(&self) -> Option<i64> {
        if !self.settled() {
            return None;
        }
        let v = self.next.load(Ordering::Relaxed);
        (v != i64::MIN).then_some(v)
    }

    /// The player has answered for the current target time.
    pub fn settled(&self) -> bool {
        self.answered.load(Ordering::Acquire) == self.target.load(Ordering::Relaxed)
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

/// A piece of footage: one file, its first picture's time and the end of its last.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub path: PathBuf,
    pub start_ms: i64,
    /// Exclusive; i64::MAX for a segment still being written.
    pub end_ms: i64,
    /// The next piece continues this one (a segment rotation inside a run): a hole of a few
    /// milliseconds between them (clock correction) still shows this one's last picture.
    pub continued: bool,
}

enum Pieces {
    /// A camera's recordings, from the index (and its unfinished segment).
    Recording {
        rec_dir: PathBuf,
        index: Arc<parking_lot::Mutex<crate::Index>>,
    },
    /// The clips of an evidence archive (one per run).
    Clips(Vec<Piece>),
}

/// Plays one camera's footage made of pieces (recorded segments, or an archive's clips):
/// the piece holding the asked time is opened (and the next one when time runs past it), so
/// time moves across files seamlessly; between runs (a gap) nothing is shown.
pub struct RecordingPlayer {
    pub camera: String,
    pieces: Pieces,
    pub shared: Arc<StreamShared>,
    current: Option<(Piece, ClipPlayer)>,
}

/// A hole this short between two segments of one run is a clock correction, not a gap.
const ROTATION_HOLE_MS: i64 = 100;

impl RecordingPlayer {
    pub fn new(camera: &str, rec_dir: &Path, index: Arc<parking_lot::Mutex<crate::Index>>) -> Self {
        RecordingPlayer {
            camera: camera.to_owned(),
            pieces: Pieces::Recording {
                rec_dir: rec_dir.to_owned(),
                index,
            },
            shared: StreamShared::new(format!("{camera}/playback"), StreamKind::Main),
            current: None,
        }
    }

    /// A player of an archive's clips of one camera (sorted by time).
    pub fn from_clips(camera: &str, mut clips: Vec<Piece>) -> Self {
        clips.sort_by_key(|c| c.start_ms);
        RecordingPlayer {
            camera: camera.to_owned(),
            pieces: Pieces::Clips(clips),
            shared: StreamShared::new(format!("{camera}/replay"), StreamKind::Main),
            current: None,
        }
    }

    fn covers(p: &Piece, t: i64) -> bool {
        t >= p.start_ms && (t < p.end_ms || (p.continued && t < p.end_ms + ROTATION_HOLE_MS))
    }

    /// Shows the recorded picture at `t` (the last frame at or before it); None where there
    /// is no recording. The segment being written (`.partial`, fragmented MP4) is played too,
    /// up to its last complete fragment, so the last minute can be replayed.
    pub fn show(&mut self, t: i64) -> Result<Option<i64>> {
        let inside = self
            .current
            .as_ref()
            .is_some_and(|(p, _)| Self::covers(p, t));
        if !inside {
            self.current = None;
            if let Some(piece) = self.piece_at(t)? {
                let mut p = ClipPlayer::open(&piece.path, piece.start_ms, &self.camera)?;
                // Publish into this player's stream so tiles keep their texture across files.
                p.shared = self.shared.clone();
                self.current = Some((piece, p));
            }
        }
        let Some((_, p)) = self.current.as_mut() else {
            return Ok(None);
        };
        match p.show(t) {
            Ok(r) => Ok(r),
            // The unfinished file was renamed when its segment ended: find it in the index.
            Err(_) => {
                self.current = None;
                match self.piece_at(t)? {
                    Some(piece) => {
                        let mut p = ClipPlayer::open(&piece.path, piece.start_ms, &self.camera)?;
                        p.shared = self.shared.clone();
                        let r = p.show(t);
                        self.current = Some((piece, p));
                        r
                    }
                    None => Ok(None),
                }
            }
        }
    }

    /// The next picture's time: in the open piece, else the start of the next piece.
    pub fn next_ms(&self) -> Option<i64> {
        if let Some(n) = self.current.as_ref().and_then(|(_, p)| p.next_ms()) {
            return Some(n);
        }
        let after = self
            .current
            .as_ref()
            .map(|(p, c)| c.shown_ms().unwrap_or(p.start_ms))?;
        match &self.pieces {
            Pieces::Clips(c) => c.iter().map(|p| p.start_ms).find(|s| *s > after),
            Pieces::Recording { index, .. } => index
                .lock()
                .segments(&self.camera, after + 1, i64::MAX)
                .ok()?
                .into_iter()
                .map(|s| s.start_ms)
                .find(|s| *s > after),
        }
    }

    fn piece_at(&self, t: i64) -> Result<Option<Piece>> {
        match &self.pieces {
            Pieces::Clips(c) => Ok(c.iter().rev().find(|p| Self::covers(p, t)).cloned()),
            Pieces::Recording { rec_dir, index } => {
                // The segment being written, when it began at or before `t`, is the newest
                // footage there is (after a step back of the clock, newer than finished
                // segments of the run before the step that cover the same time).
                if let Some((path, start)) = self.partial_at(t) {
                    return Ok(Some(Piece {
                        path,
                        start_ms: start,
                        end_ms: i64::MAX,
                        continued: false,
                    }));
                }
                let idx = index.lock();
                let segs = idx.segments(&self.camera, t - ROTATION_HOLE_MS, t)?;
                // Of the segments covering `t`, the one recorded last (highest id): the next
                // one at a segment boundary, and after a step back of the workstation's clock
                // (two runs over the same times) the run on the corrected clock.
                let found = segs
                    .into_iter()
                    .filter(|s| s.start_ms <= t)
                    .map(|s| {
                        (
                            s.id,
                            Piece {
                                path: rec_dir.join(&s.file),
                                start_ms: s.start_ms,
                                end_ms: s.end_ms,
                                continued: s.end_reason.is_none(),
                            },
                        )
                    })
                    .filter(|(_, p)| Self::covers(p, t))
                    .max_by_key(|(id, _)| *id);
                let Some((id, mut piece)) = found else {
                    return Ok(None);
                };
                // It is played only up to where footage recorded after it begins (the run on
                // the corrected clock), so a player going on through the overlap switches
                // there and stays.
                let newer = idx
                    .segments(&self.camera, t, piece.end_ms)?
                    .into_iter()
                    .filter(|s| s.id > id && s.start_ms > t)
                    .map(|s| s.start_ms)
                    .min();
                if let Some(cut) = newer.filter(|c| *c < piece.end_ms) {
                    piece.end_ms = cut;
                    piece.continued = false;
                }
                Ok(Some(piece))
            }
        }
    }

    /// The unfinished segment file starting last at or before `t`.
    pub fn partial_at(&self, t: i64) -> Option<(PathBuf, i64)> {
        let Pieces::Recording { rec_dir, .. } = &self.pieces else {
            return None;
        };
        crate::recorder::open_segment(rec_dir, &self.camera).filter(|(_, s)| *s <= t)
    }
}
