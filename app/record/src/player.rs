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
    /// A preview is shown: the decoder is not where `shown` says, the next `show` seeks.
    previewed: bool,
    /// A whole MP4 with its index (an exported clip), where libavformat's seek is trusted;
    /// not a fragmented segment of the recorder's (which may still be growing).
    indexed: bool,
    /// Times the file was opened again to seek from its top (for tests and the benchmark).
    pub reopens: u64,
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
        // A fragmented MP4 (the recorder's segments: an empty `moov`) lists no frames.
        let indexed = st.frames() > 0;
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
            previewed: false,
            indexed,
            reopens: 0,
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

    /// The next packet of the video stream (None at the end of the file).
    fn next_video(&mut self) -> Option<ff::Packet> {
        let idx = self.idx;
        self.ictx
            .packets()
            .find(|(s, _)| s.index() == idx)
            .map(|(_, p)| p)
    }

    /// The timeline time of a presentation time.
    fn wall_of(&self, pts: i64) -> i64 {
        let (num, den) = (self.tb.numerator() as i64, self.tb.denominator() as i64);
        self.start_wall_ms + (pts - self.first_pts) * 1000 * num / den
    }

    /// Empties the decoder and puts the file's reading position at a keyframe at or before
    /// `t`, or at the top; returns the first video packet when it already read it.
    ///
    /// An exported clip (a whole MP4 with its index, `+faststart`) seeks with
    /// `avformat_seek_file`: a click in an hour-long clip does not read the packets of all
    /// the minutes before it; the seek counts only if the first packet after it is a
    /// keyframe at or before `t`. A recorded segment is fragmented MP4 without an index,
    /// where libavformat's seek only knows the fragments it has read, and it may still be
    /// growing or have been renamed: it is opened again by its path and read from the top
    /// (a one-minute segment's packets, no decoding: a few ms; a failed open is how a
    /// renamed unfinished segment is noticed).
    fn rewind(&mut self, t: i64) -> Result<Option<ff::Packet>> {
        self.dec.flush();
        self.fed.clear();
        self.queue.clear();
        self.eof = false;
        self.held = None;
        let (num, den) = (self.tb.numerator() as i64, self.tb.denominator() as i64);
        if self.indexed && num > 0 && den > 0 {
            let pts = self.first_pts + (t - self.start_wall_ms) * den / (1000 * num);
            let us = (pts as i128 * 1_000_000 * num as i128 / den as i128) as i64;
            if self.ictx.seek(us, ..us + 1).is_ok() {
                if let Some(pkt) = self.next_video() {
                    let w = pkt.pts().map(|p| self.wall_of(p));
                    if pkt.is_key() && w.is_some_and(|w| w <= t) {
                        return Ok(Some(pkt));
                    }
                }
            }
        }
        self.ictx = ff::format::input(&self.path).map_err(|e| err(&self.path, e))?;
        self.reopens += 1;
        Ok(None)
    }

    /// Goes to the keyframe at or before `t` and decodes up to the next keyframe after it.
    fn seek(&mut self, t: i64) -> Result<()> {
        let mut pending = self.rewind(t)?;
        let mut gop: Vec<ff::Packet> = Vec::new();
        let mut after = None;
        while let Some(pkt) = pending.take().or_else(|| self.next_video()) {
            let w = pkt.pts().map(|p| self.wall_of(p)).unwrap_or(i64::MIN);
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

    /// Whether `t` is a jump from what is shown (back in time, or far ahead) rather than
    /// a step that decoding on reaches.
    fn jumps(&self, t: i64) -> bool {
        let behind = self.shown.is_some_and(|s| t < s);
        let far = self
            .queue
            .back()
            .map(|b| b.0)
            .or(self.shown)
            .is_some_and(|s| t > s + SEEK_AHEAD_MS);
        behind || far
    }

    /// Whether showing `t` needs a seek: a jump, or the decoder is not where the picture
    /// shown (a preview) says.
    fn needs_seek(&self, t: i64) -> bool {
        self.jumps(t) || self.previewed
    }

    /// Shows the keyframe at or before `t`, decoding that one picture instead of its whole
    /// group, when `t` is a jump; else the same as [`ClipPlayer::show`] (so playing on after
    /// a preview decodes exactly, never keyframe by keyframe). For a target that jumps
    /// faster than pictures can be decoded (the officer drags along the timeline, seeks in a
    /// storm): each stop costs one picture, and the next `show` seeks and decodes exactly.
    /// Returns the time of the picture shown (the keyframe's own).
    pub fn preview(&mut self, t: i64) -> Result<Option<i64>> {
        if !self.jumps(t) {
            return self.show(t);
        }
        let mut pending = self.rewind(t)?;
        let mut key = None;
        while let Some(pkt) = pending.take().or_else(|| self.next_video()) {
            let w = pkt.pts().map(|p| self.wall_of(p)).unwrap_or(i64::MIN);
            if w > t && pkt.is_key() {
                break;
            }
            if pkt.is_key() {
                key = Some(pkt);
            }
        }
        self.previewed = true;
        let Some(key) = key else {
            // Before the clip's first keyframe: shown exactly (nothing, or its first picture).
            return self.show(t);
        };
        self.feed(Some(&key));
        self.feed(None);
        let pick = self.queue.pop_front();
        self.queue.clear();
        self.fed.clear();
        self.dec.flush();
        if let Some((ft, f)) = pick {
            self.shown = Some(ft);
            self.shared.publish(f);
        }
        Ok(self.shown)
    }

    /// Shows the last frame at or before wall-clock time `t`; returns its time (None before
    /// the clip's first frame).
    pub fn show(&mut self, t: i64) -> Result<Option<i64>> {
        if self.needs_seek(t) {
            self.seek(t)?;
            self.previewed = false;
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
    /// A quick picture near `t` for a target on the move (see [`ClipPlayer::preview`]);
    /// sources without one show exactly.
    fn preview_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.show_at(t)
    }
    /// Why pictures that are there cannot be shown (the decoder's reason), if so.
    fn error(&self) -> Option<String> {
        None
    }
}

impl TimedSource for ClipPlayer {
    fn show_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.show(t)
    }
    fn preview_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.preview(t)
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
    fn preview_at(&mut self, t: i64) -> Result<Option<i64>> {
        self.preview(t)
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
                mt_core::priority::lower_this_thread(mt_core::priority::VIDEO);
                let mut last = i64::MIN;
                // The target changed while the last answer was being made: it is on the move
                // (a drag along the timeline, a storm of seeks), so a seek shows only the
                // keyframe before it until it rests; then the exact picture.
                let mut moving = false;
                // What is shown is such a preview, not the exact picture for `last`.
                let mut rough = false;
                while !st.load(Ordering::Relaxed) {
                    let want = t.load(Ordering::Relaxed);
                    if want == last && !rough {
                        std::thread::sleep(Duration::from_millis(4));
                        continue;
                    }
                    let quick = want != last && moving;
                    let r = if quick {
                        p.preview_at(want)
                    } else {
                        p.show_at(want)
                    };
                    match r {
                        Ok(Some(at)) => s.store(at, Ordering::Relaxed),
                        Ok(None) => s.store(i64::MIN, Ordering::Relaxed),
                        Err(e) => {
                            s.store(i64::MIN, Ordering::Relaxed);
                            tracing::warn!("{e}")
                        }
                    }
                    *er.lock() = p.error();
                    if quick {
                        // Not an answer for any target (a frame step waits for the exact one).
                        a.store(i64::MIN, Ordering::Release);
                    } else {
                        n.store(p.next_ms().unwrap_or(i64::MIN), Ordering::Relaxed);
                        a.store(want, Ordering::Release);
                    }
                    moving = t.load(Ordering::Relaxed) != want;
                    rough = quick;
                    last = want;
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
        self.show_or_preview(t, false)
    }

    /// [`ClipPlayer::preview`] in the piece holding `t`.
    pub fn preview(&mut self, t: i64) -> Result<Option<i64>> {
        self.show_or_preview(t, true)
    }

    fn show_or_preview(&mut self, t: i64, quick: bool) -> Result<Option<i64>> {
        let at = |p: &mut ClipPlayer| if quick { p.preview(t) } else { p.show(t) };
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
        match at(p) {
            Ok(r) => Ok(r),
            // The unfinished file was renamed when its segment ended: find it in the index.
            Err(_) => {
                self.current = None;
                match self.piece_at(t)? {
                    Some(piece) => {
                        let mut p = ClipPlayer::open(&piece.path, piece.start_ms, &self.camera)?;
                        p.shared = self.shared.clone();
                        let r = at(&mut p);
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
