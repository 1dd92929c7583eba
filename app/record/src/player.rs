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
            decoded: 0,
        };
        // The first presented frame's time anchors wall-clock time.
        p.decode_some()?;
        p.first_pts = p.queue.front().map(|q| q.0).unwrap_or(0);
        // Re-express queued times as wall-clock times now that the anchor is known.
        let first = p.first_pts;
        let (num, den) = (tb.numerator() as i64, tb.denominator() as i64);
        for q in p.queue.iter_mut() {
            q.0 = start_wall_ms + (q.0 - first) * 1000 * num / den;
        }
        Ok(p)
    }

    fn wall(&self, pts: i64) -> i64 {
        self.start_wall_ms
            + (pts - self.first_pts) * 1000 * self.tb.numerator() as i64
                / self.tb.denominator() as i64
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
        let anchored = !self.queue.is_empty() || self.shown.is_some() || self.decoded > 0;
        let before = self.queue.len();
        let mut got = Vec::new();
        while got.is_empty() && !self.eof {
            let mut next = None;
            for (s, pkt) in self.ictx.packets() {
                if s.index() == self.idx {
                    next = Some(pkt);
                    break;
                }
            }
            match next {
                Some(pkt) => {
                    let _ = self
                        .dec
                        .decode_packet(&pkt, |pts, f| got.push((pts.unwrap_or(0), f)));
                }
                None => {
                    self.eof = true;
                    let _ = self.dec.finish(|pts, f| got.push((pts.unwrap_or(0), f)));
                }
            }
        }
        self.decoded += got.len() as u64;
        for (pts, f) in got {
            let t = if anchored { self.wall(pts) } else { pts };
            self.queue.push_back((t, f));
        }
        let _ = before;
        Ok(())
    }

    fn seek(&mut self, t: i64) -> Result<()> {
        let rel_ms = (t - self.start_wall_ms).max(0);
        let first_us =
            self.first_pts * 1_000_000 * self.tb.numerator() as i64 / self.tb.denominator() as i64;
        let target_us = first_us + rel_ms * 1000;
        self.ictx
            .seek(target_us, ..target_us)
            .map_err(|e| err(&self.path, e))?;
        self.dec.flush();
        self.queue.clear();
        self.eof = false;
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
            if self.queue.is_empty() {
                if self.eof {
                    break;
                }
                self.decode_some()?;
                continue;
            }
            let (ft, _) = self.queue[0];
            if ft <= t {
                pick = self.queue.pop_front();
            } else {
                break;
            }
        }
        if let Some((ft, f)) = pick {
            self.shown = Some(ft);
            self.shared.publish(f);
        }
        Ok(self.shown)
    }
}

/// A clip player on its own thread ("replay <label>"), following a shared target time: the
/// UI sets the time each frame and never waits for decoding.
pub struct PlayerThread {
    pub shared: Arc<StreamShared>,
    pub target: Arc<AtomicI64>,
    pub shown: Arc<AtomicI64>,
    pub start_ms: i64,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PlayerThread {
    pub fn spawn(mut p: ClipPlayer, label: &str) -> std::io::Result<Self> {
        let target = Arc::new(AtomicI64::new(p.start_ms()));
        let shown = Arc::new(AtomicI64::new(i64::MIN));
        let stop = Arc::new(AtomicBool::new(false));
        let shared = p.shared.clone();
        let start_ms = p.start_ms();
        let (t, s, st) = (target.clone(), shown.clone(), stop.clone());
        let handle = std::thread::Builder::new()
            .name(format!("replay {label}"))
            .spawn(move || {
                let mut last = i64::MIN;
                while !st.load(Ordering::Relaxed) {
                    let want = t.load(Ordering::Relaxed);
                    if want != last {
                        match p.show(want) {
                            Ok(Some(at)) => s.store(at, Ordering::Relaxed),
                            Ok(None) => {}
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
