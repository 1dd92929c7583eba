//! State shared between a stream's receive task, its decoder thread and the UI/renderer.
//! Every field is behind a short-held lock or an atomic: the UI thread never waits on I/O.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mt_core::StreamState;
use parking_lot::Mutex;

use crate::frame::DecodedFrame;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamKind {
    Main,
    Sub,
}

/// Numbers for the tile overlay and the health panel.
#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    pub fps: f32,
    pub kbps: f32,
    pub width: u32,
    pub height: u32,
    pub codec: &'static str,
    pub last_frame_at: Option<Instant>,
    pub reconnects: u64,
    pub frames_received: u64,
    pub frames_decoded: u64,
    /// Frames not decoded because the decoder was behind (each frame skipped up to the next
    /// keyframe counts, not each episode).
    pub frames_dropped: u64,
    /// RTP packets lost on the way (retina's sequence-number gaps).
    pub packets_lost: u64,
    /// Frames received after a packet loss up to the next keyframe: decoded with the
    /// decoder's concealment (the picture may be smeared until the keyframe).
    pub frames_damaged: u64,
    /// Times the stream's parameters (SPS/PPS, VPS) changed, e.g. a new resolution.
    pub parameter_changes: u64,
    /// Decode errors since the stream started.
    pub decode_errors: u64,
    /// When the last picture was decoded.
    pub last_picture_at: Option<Instant>,
    /// Arrival-based time minus the camera's own clock (RTCP sender reports), ms: the
    /// camera's encoder + network delay when its clock is right, its error when it is not.
    pub camera_clock_offset_ms: Option<i64>,
    /// Picture times follow the camera's clock (it agrees with the workstation's).
    pub camera_clock_used: bool,
}

/// How many arrival→upload latency samples to keep per stream.
const LATENCY_SAMPLES: usize = 4096;

pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// One received access unit, as the recorder gets it (a copy of what goes to the decoder;
/// nothing is re-encoded).
#[derive(Clone, Debug)]
pub struct RecPacket {
    /// Annex B, with SPS/PPS (VPS) before every keyframe.
    pub data: Vec<u8>,
    pub keyframe: bool,
    pub codec: crate::decode::Codec,
    /// Presentation time in 1/90,000 s since the RTSP session started (RTP timestamps).
    pub pts_90k: i64,
    /// The picture's place on the timeline, Unix µs ([`crate::clock::SessionClock`]).
    pub wall_us: i64,
    /// Increments with each new RTSP session (timestamps restart).
    pub session: u64,
    /// Picture size, when the stream's parameters are known.
    pub width: u32,
    pub height: u32,
    /// The stream's parameters (SPS/PPS/VPS) changed at this keyframe (e.g. a new resolution).
    pub new_parameters: bool,
    /// RTP packets lost just before this frame (the picture may be broken).
    pub loss: u16,
    /// The presentation times jumped just before this frame.
    pub jumped: bool,
    /// The workstation's clock stepped by this much (µs) just before this frame.
    pub clock_step_us: Option<i64>,
}

/// What the recorder thread is told about a stream.
#[derive(Clone, Debug)]
pub enum RecMsg {
    Packet(RecPacket),
    /// The RTSP session `session` ended: the run of footage ends here.
    Ended {
        session: u64,
        /// Why, as a gap reason key (`camera-lost`, `stalled`, …) and in words.
        reason: &'static str,
        detail: String,
    },
}

/// Where a stream's packets go for recording: a bounded channel to the recorder thread.
pub type RecSink = std::sync::mpsc::SyncSender<RecMsg>;

pub struct StreamShared {
    /// Unique for the process's life (never reused, unlike an address): the key of the
    /// stream's textures in the renderer.
    pub id: u64,
    /// `camera-id/main` or `camera-id/sub`: for logs and thread names.
    pub label: String,
    pub kind: StreamKind,
    /// The connection as the receive task knows it: `Live` here means "frames arrive"; what
    /// [`StreamShared::state`] reports also depends on pictures being decoded.
    conn: Mutex<StreamState>,
    /// Why pictures of this session cannot be decoded (format, persistent errors), if so.
    undecodable: Mutex<Option<(mt_core::UndecodableReason, String)>>,
    /// A picture decoded within this long means live (depends on whether every frame is
    /// decoded or only a keyframe now and then).
    live_window_ms: AtomicU64,
    latest: Mutex<Option<Arc<DecodedFrame>>>,
    stats: Mutex<StreamStats>,
    /// Whether any view shows this stream (decode only what is on screen).
    wanted: AtomicBool,
    /// Bumped when `wanted` changes, so the receive task can wake.
    pub(crate) wanted_changed: tokio::sync::Notify,
    latency_us: Mutex<VecDeque<u32>>,
    frames_uploaded: AtomicU64,
    waker: Mutex<Option<Waker>>,
    recorder: Mutex<Option<RecSink>>,
    /// Packets the recorder could not take (its queue was full).
    pub(crate) rec_dropped: AtomicU64,
}

impl StreamShared {
    pub fn new(label: String, kind: StreamKind) -> Arc<Self> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Arc::new(StreamShared {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            label,
            kind,
            conn: Mutex::new(StreamState::Idle),
            undecodable: Mutex::new(None),
            live_window_ms: AtomicU64::new(3_000),
            latest: Mutex::new(None),
            stats: Mutex::new(StreamStats::default()),
            wanted: AtomicBool::new(false),
            wanted_changed: tokio::sync::Notify::new(),
            latency_us: Mutex::new(VecDeque::with_capacity(LATENCY_SAMPLES)),
            frames_uploaded: AtomicU64::new(0),
            waker: Mutex::new(None),
            recorder: Mutex::new(None),
            rec_dropped: AtomicU64::new(0),
        })
    }

    /// Sends every received packet of this stream to `sink` too (recording). An on-demand
    /// stream with a recorder stays connected even when no view shows it; it is still decoded
    /// only when shown.
    pub fn set_recorder(&self, sink: Option<RecSink>) {
        *self.recorder.lock() = sink;
        self.wanted_changed.notify_waiters();
    }

    pub fn is_recording(&self) -> bool {
        self.recorder.lock().is_some()
    }

    pub(crate) fn recorder(&self) -> Option<RecSink> {
        self.recorder.lock().clone()
    }

    /// Packets dropped because the recorder was behind.
    pub fn recorder_dropped(&self) -> u64 {
        self.rec_dropped.load(Ordering::Relaxed)
    }

    /// What the officer is told: lost (with the reason) or idle as the connection is; a
    /// stream whose pictures cannot be decoded says so; otherwise live only while pictures
    /// are decoded, connecting until the first one.
    pub fn state(&self) -> StreamState {
        let conn = self.conn.lock().clone();
        match conn {
            StreamState::Live | StreamState::Connecting => {
                if let Some((reason, detail)) = self.undecodable.lock().clone() {
                    return StreamState::Undecodable { reason, detail };
                }
                let window = self.live_window_ms.load(Ordering::Relaxed);
                let fresh = self
                    .stats
                    .lock()
                    .last_picture_at
                    .is_some_and(|t| t.elapsed().as_millis() as u64 <= window);
                if matches!(conn, StreamState::Live) && fresh {
                    StreamState::Live
                } else {
                    StreamState::Connecting
                }
            }
            other => other,
        }
    }
    /// The connection state as the receive task set it (frames arriving or not).
    pub fn connection(&self) -> StreamState {
        self.conn.lock().clone()
    }
    pub(crate) fn set_state(&self, s: StreamState) {
        let mut st = self.conn.lock();
        if *st != s {
            if !matches!(s, StreamState::Live) {
                // A new connection attempt or a loss: the decoder's verdict and the last
                // picture were of the old session; live again only once this one decodes.
                *self.undecodable.lock() = None;
                self.stats.lock().last_picture_at = None;
            }
            *st = s;
            drop(st);
            self.wake();
        }
    }
    pub(crate) fn set_undecodable(&self, why: Option<(mt_core::UndecodableReason, String)>) {
        let mut u = self.undecodable.lock();
        if *u != why {
            *u = why;
            drop(u);
            self.wake();
        }
    }
    pub(crate) fn set_live_window_ms(&self, ms: u64) {
        self.live_window_ms.store(ms, Ordering::Relaxed);
    }

    /// The most recent decoded picture, if any.
    pub fn latest(&self) -> Option<Arc<DecodedFrame>> {
        self.latest.lock().clone()
    }
    /// The most recent picture if it was decoded within `max_age` (a picture decoded only to
    /// check the stream, seconds ago, is not what a tile should switch to).
    pub fn latest_fresh(&self, max_age: std::time::Duration) -> Option<Arc<DecodedFrame>> {
        let fresh = self
            .stats
            .lock()
            .last_picture_at
            .is_some_and(|t| t.elapsed() <= max_age);
        if fresh {
            self.latest()
        } else {
            None
        }
    }
    /// Makes `f` the stream's latest picture (decoders, and replay of recorded clips).
    pub fn publish(&self, f: Arc<DecodedFrame>) {
        *self.latest.lock() = Some(f);
        self.wake();
    }
    pub(crate) fn clear_picture(&self) {
        *self.latest.lock() = None;
    }

    pub fn stats(&self) -> StreamStats {
        self.stats.lock().clone()
    }
    pub(crate) fn with_stats<R>(&self, f: impl FnOnce(&mut StreamStats) -> R) -> R {
        f(&mut self.stats.lock())
    }

    /// Tells the stream whether a view shows it. Cheap; call it every UI frame.
    pub fn set_wanted(&self, wanted: bool) {
        if self.wanted.swap(wanted, Ordering::Relaxed) != wanted {
            self.wanted_changed.notify_one();
        }
    }
    pub fn is_wanted(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
    }

    /// Called by the renderer when it has uploaded `frame` to the GPU.
    pub fn record_upload(&self, frame: &DecodedFrame) {
        let us = frame.arrival.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let mut l = self.latency_us.lock();
        if l.len() == LATENCY_SAMPLES {
            l.pop_front();
        }
        l.push_back(us);
        self.frames_uploaded.fetch_add(1, Ordering::Relaxed);
    }
    /// Arrival→upload latency samples in microseconds (newest last).
    pub fn latency_samples_us(&self) -> Vec<u32> {
        self.latency_us.lock().iter().copied().collect()
    }
    /// Takes the latency samples gathered so far (the benchmark's measuring window).
    pub fn drain_latency_us(&self) -> Vec<u32> {
        self.latency_us.lock().drain(..).collect()
    }
    pub fn frames_uploaded(&self) -> u64 {
        self.frames_uploaded.load(Ordering::Relaxed)
    }

    /// Sets the function that asks the UI to repaint (`egui::Context::request_repaint`).
    pub fn set_waker(&self, w: Option<Waker>) {
        *self.waker.lock() = w;
    }
    fn wake(&self) {
        if let Some(w) = self.waker.lock().as_ref() {
            w();
        }
    }
}
